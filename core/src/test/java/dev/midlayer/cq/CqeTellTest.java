package dev.midlayer.cq;

import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@link Cqe#tell}: completions as messages of an actor's own protocol, in the CQ's order. */
class CqeTellTest {
  private ActorTestKit kit;
  private Device device;

  /** A message of the test actor's own protocol. */
  private record Completed(long wrId) {}

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("CqeTellTest", ConfigFactory.load());
    device = await(Midlayer.get(kit.system()).registerDevice("tell%d", new VerbsTestDriver().ops()));
  }

  /**
   * The target as Cqe.tell's Javadoc asks: an actor on a dispatcher whose threads are all started (the probe's
   * own pool may start a thread inside the tell, in atomic context, which the monitor reports), forwarding to
   * the probe in its own turn.
   */
  private ActorRef<Completed> onCallbackDispatcher(TestProbe<Completed> probe) {
    return kit.spawn(Behaviors.receiveMessage(m -> {
      probe.ref().tell(m);
      return Behaviors.same();
    }), "target-" + TARGETS.incrementAndGet(), DispatcherSelector.fromConfig("midlayer.callback-dispatcher"));
  }

  private static final AtomicInteger TARGETS = new AtomicInteger();

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  @Test
  @DisplayName("Cqe.tell on an ACTOR CQ: each of 2,000 completions reaches the actor once, as the adapter's "
      + "message, in the order the CQ held them")
  void completionsReachTheActorInCqOrder() {
    int n = 2_000;
    CompletionQueue cq = await(device.allocCq(n, PollContext.ACTOR));
    TestProbe<Completed> probe = kit.createTestProbe();
    Cqe cqe = Cqe.tell(onCallbackDispatcher(probe), wc -> new Completed(wc.wrId()));
    for (int i = 0; i < n; i++) {
      assertTrue(Internal.push(cq, success(i, cqe), false), "push " + i);
    }
    for (int i = 0; i < n; i++) {
      assertEquals(new Completed(i), probe.receiveMessage(Duration.ofSeconds(10)));
    }
    probe.expectNoMessage(Duration.ofMillis(50));
    await(cq.destroy());
  }

  @Test
  @DisplayName("Cqe.tell: an adapter that throws costs its completion only (logged); the next ones arrive")
  void throwingAdapterCostsOneCompletion() {
    CompletionQueue cq = await(device.allocCq(8, PollContext.ACTOR));
    TestProbe<Completed> probe = kit.createTestProbe();
    Cqe cqe = Cqe.tell(onCallbackDispatcher(probe), (WorkCompletion wc) -> {
      if (wc.wrId() == 1) {
        throw new IllegalStateException("adapter fails on purpose");
      }
      return new Completed(wc.wrId());
    });
    for (int i = 0; i < 3; i++) {
      assertTrue(Internal.push(cq, success(i, cqe), false));
    }
    assertEquals(new Completed(0), probe.receiveMessage());
    assertEquals(new Completed(2), probe.receiveMessage());
    await(cq.destroy());
  }

  @Test
  @DisplayName("Cqe.tell refuses a null target or adapter with a typed error naming it")
  void nullArgumentsAreNamed() {
    TestProbe<Completed> probe = kit.createTestProbe();
    InvalidArgumentException noTarget = assertThrows(InvalidArgumentException.class,
        () -> Cqe.tell(null, wc -> new Completed(wc.wrId())));
    assertTrue(noTarget.getMessage().contains("target"), noTarget.getMessage());
    InvalidArgumentException noAdapter = assertThrows(InvalidArgumentException.class,
        () -> Cqe.tell(probe.ref(), null));
    assertTrue(noAdapter.getMessage().contains("adapt"), noAdapter.getMessage());
  }
}
