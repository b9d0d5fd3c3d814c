package dev.midlayer.testkit;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.registry.LeftoverReclaimed;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Each hostile client misbehaves as its factory says, and the midlayer answers as documented. */
class HostileClientsTest {

  // A midlayer per test, shut down after it; a test that leaves something behind fails.
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(0)
      .config(ConfigFactory.parseString("midlayer.client-ack-warning-interval = 200ms")).build();
  private MidlayerTestKit kit;

  @BeforeEach
  void start() {
    kit = fabric.kit();
  }

  @Test
  @DisplayName("a client that throws in add (plain or typed) costs nothing: the device registers and unregisters")
  void throwingInAdd() {
    kit.registerClient(HostileClients.throwingInAdd("thrower"));
    await(kit.midlayer().registerClient("typed-thrower", HostileClients.typedThrowingInAdd()));
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    kit.removeDevice(lo); // completes: no remove is owed to a failed add
    assertTrue(kit.midlayer().devices().isEmpty());
  }

  @Test
  @DisplayName("a client that sleeps in add and remove (C16 allows it) is waited for: each verb returns after it")
  void sleeping() {
    java.util.concurrent.atomic.AtomicInteger finished = new java.util.concurrent.atomic.AtomicInteger();
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    ClientId id = kit.registerClient(HostileClients.sleeping("sleeper", java.time.Duration.ofMillis(50), finished));
    assertEquals(1, finished.get(), "registerClient returned after the add had slept and finished");
    kit.removeDevice(lo);
    assertEquals(2, finished.get(), "removeDevice returned after the remove had slept and finished");
    kit.unregisterClient(id);
  }

  @Test
  @DisplayName("a client that throws in remove is logged naming it and the device, and the device goes anyway")
  void throwingInRemove() {
    ClientId id = kit.registerClient(HostileClients.throwingInRemove("remove-thrower"));
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    LoggingTestKit.error("threw in remove of " + lo.name()).withMessageContains(id.toString())
        .expect(kit.testKit().system(), () -> {
          kit.removeDevice(lo);
          return null;
        });
  }

  @Test
  @DisplayName("a leaking client's PD and CQ (plain or typed) are reported, naming client and device, when its "
      + "remove returns")
  void leaking() {
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    ClientId plain = kit.registerClient(HostileClients.leaking("leaker"));
    ClientId typed = await(kit.midlayer().registerClient("typed-leaker", HostileClients.typedLeaking()));
    kit.unregisterClient(plain);
    kit.unregisterClient(typed);
    Await.eventually(() -> assertEquals(4, kit.leftovers().size(), kit.leftovers().toString()));
    for (ClientId c : List.of(plain, typed)) {
      List<LeftoverReclaimed> of = kit.leftovers().stream().filter(l -> c.equals(l.client())).toList();
      assertEquals(2, of.size(), c + ": " + of);
      assertTrue(of.stream().allMatch(l -> l.device().equals(lo.name())), of.toString());
      assertTrue(of.stream().anyMatch(l -> l.object().startsWith("PD")), of.toString());
      assertTrue(of.stream().anyMatch(l -> l.object().startsWith("CQ")), of.toString());
    }
    kit.allowLeftovers();
  }

  @Test
  @DisplayName("a client stuck in remove (plain or typed) holds up its device's unregistration, which warns naming "
      + "it, until it is released")
  void stuckInRemove() {
    for (HostileClients.Stuck stuck : List.of(HostileClients.stuckInRemove("stuck"),
        HostileClients.typedNeverReplyingToRemove())) {
      ClientId id = stuck.client() != null ? kit.registerClient(stuck.client())
          : await(kit.midlayer().registerClient("typed-stuck", stuck.behavior()));
      LoopbackDevice lo = kit.addDevice("lo%d", 1);
      CompletionStage<Done> unregister = LoggingTestKit.warn(id + " has not finished").expect(
          kit.testKit().system(), () -> {
            CompletionStage<Done> u = kit.fabric().removeDevice(lo);
            stuck.awaitInRemove();
            return u;
          });
      Await.staysPending(Duration.ofMillis(100), unregister);
      stuck.release();
      Await.result(unregister);
      kit.unregisterClient(id);
    }
  }
}
