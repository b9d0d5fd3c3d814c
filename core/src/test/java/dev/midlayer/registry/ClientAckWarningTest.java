package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.testsupport.TestDriver;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The registry never proceeds without a client's acknowledgement, and says so, repeatedly, while it waits. */
class ClientAckWarningTest {
  private ActorTestKit testKit;
  private Midlayer midlayer;
  private SlowClient client;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create("ack-warning",
        ConfigFactory.parseString("midlayer.client-ack-warning-interval = 100ms")
            .withFallback(ConfigFactory.load()));
    midlayer = Midlayer.get(testKit.system());
  }

  @AfterEach
  void stop() {
    // Termination unregisters the devices (CoordinatedShutdown), so the slow client's remove runs then too.
    if (client != null) {
      client.releaseAdd.countDown();
      client.releaseRemove.countDown();
    }
    testKit.shutdownTestKit();
  }

  /** A client whose add and remove wait for the test to release them. */
  private static final class SlowClient implements Client {
    final CountDownLatch releaseAdd = new CountDownLatch(1);
    final CountDownLatch releaseRemove = new CountDownLatch(1);

    @Override
    public String name() {
      return "slowpoke";
    }

    @Override
    public boolean add(Device device, ClientId self) throws Exception {
      return releaseAdd.await(30, TimeUnit.SECONDS);
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) throws Exception {
      releaseRemove.await(30, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("an overdue add is warned about repeatedly, naming client and device, and nothing proceeds without it")
  void overdueAddIsWarnedAboutAndWaitedFor() {
    client = new SlowClient();
    await(midlayer.registerClient(client));
    AtomicReference<CompletionStage<Device>> registration = new AtomicReference<>();
    LoggingTestKit.warn("client 'slowpoke' (#0) has not finished add of device ack0")
        .withOccurrences(3)
        .expect(testKit.system(), () -> {
          registration.set(midlayer.registerDevice("ack%d", new TestDriver().ops()));
          return null;
        });
    // Still waiting: neither this registration nor one queued behind it has completed.
    CompletionStage<Device> queued = midlayer.registerDevice("ack%d", new TestDriver().ops());
    assertFalse(registration.get().toCompletableFuture().isDone());
    assertFalse(queued.toCompletableFuture().isDone());
    client.releaseAdd.countDown();
    Device first = await(registration.get());
    Device second = await(queued);
    assertTrue(first.name().equals("ack0") && second.name().equals("ack1"));
  }

  @Test
  @DisplayName("an overdue remove is warned about repeatedly; unregisterDevice completes only after it")
  void overdueRemoveIsWarnedAboutAndWaitedFor() {
    client = new SlowClient();
    client.releaseAdd.countDown();
    await(midlayer.registerClient(client));
    Device device = await(midlayer.registerDevice("ack%d", new TestDriver().ops()));
    AtomicReference<CompletionStage<?>> unregistration = new AtomicReference<>();
    // Repeatedly: at least twice. The warning comes every 100 ms until remove returns, so a loaded machine may
    // log a third before the expectation closes; only the first two are counted, so that is not an excess.
    AtomicInteger warnings = new AtomicInteger();
    LoggingTestKit.custom(e -> e.level() == org.slf4j.event.Level.WARN
            && e.message().contains("client 'slowpoke' (#0) has not finished remove of device ack0")
            && warnings.incrementAndGet() <= 2)
        .withOccurrences(2)
        .expect(testKit.system(), () -> {
          unregistration.set(midlayer.unregisterDevice(device));
          return null;
        });
    assertFalse(unregistration.get().toCompletableFuture().isDone());
    client.releaseRemove.countDown();
    await(unregistration.get());
  }
}
