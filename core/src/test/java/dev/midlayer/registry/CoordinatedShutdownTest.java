package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.testsupport.TestDriver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * On actor-system termination the midlayer runs in CoordinatedShutdown: every device is unregistered, so
 * every client gets its remove in the documented order, within {@code midlayer.shutdown.timeout}; what does
 * not finish is named in a warning and termination goes on.
 */
class CoordinatedShutdownTest {

  private static Client recording(String name, List<String> calls, CountDownLatch stuck) {
    return new Client() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public boolean add(Device device, ClientId self) {
        return true;
      }

      @Override
      public void remove(Device device, ClientId self, Object data) throws InterruptedException {
        if (stuck != null) {
          stuck.await(30, TimeUnit.SECONDS);
        }
        calls.add(name + "-" + device.name());
      }
    };
  }

  @Test
  @DisplayName("terminating the actor system gives every client its remove for every device, in reverse client "
      + "registration order per device, and unregisters every device")
  void terminationRemovesEveryClientFromEveryDevice() {
    ActorTestKit kit = ActorTestKit.create("cs");
    Midlayer midlayer = Midlayer.get(kit.system());
    List<String> calls = new CopyOnWriteArrayList<>();
    Device a = await(midlayer.registerDevice("a", new TestDriver().ops()));
    Device b = await(midlayer.registerDevice("b", new TestDriver().ops()));
    await(midlayer.registerClient(recording("first", calls, null)));
    await(midlayer.registerClient(recording("second", calls, null)));
    kit.shutdownTestKit();
    assertEquals(4, calls.size(), calls.toString());
    assertTrue(calls.indexOf("second-a") < calls.indexOf("first-a"), "reverse order on a: " + calls);
    assertTrue(calls.indexOf("second-b") < calls.indexOf("first-b"), "reverse order on b: " + calls);
    assertEquals(DeviceState.UNREGISTERED, a.state());
    assertEquals(DeviceState.UNREGISTERED, b.state());
  }

  @Test
  @DisplayName("a client stuck in remove during termination is named in a warning after midlayer.shutdown.timeout, "
      + "and termination goes on")
  void stuckRemoveIsWarnedAboutAndTerminationGoesOn() throws Exception {
    ActorTestKit kit = ActorTestKit.create("cs-stuck",
        ConfigFactory.parseString("midlayer.shutdown.timeout = 300ms").withFallback(ConfigFactory.load()));
    Midlayer midlayer = Midlayer.get(kit.system());
    List<String> calls = new CopyOnWriteArrayList<>();
    CountDownLatch release = new CountDownLatch(1);
    await(midlayer.registerDevice("stuckdev", new TestDriver().ops()));
    await(midlayer.registerClient(recording("stuck", calls, release)));
    try {
      LoggingTestKit.warn("midlayer shutdown: device stuckdev was not unregistered within").expect(kit.system(), () -> {
        CoordinatedShutdown.get(kit.system()).runAll(CoordinatedShutdown.unknownReason());
        return null;
      });
    } finally {
      release.countDown();
    }
    kit.system().getWhenTerminated().toCompletableFuture().get(Duration.ofSeconds(20).toMillis(), TimeUnit.MILLISECONDS);
    assertEquals(List.of("stuck-stuckdev"), calls, "its remove finished once released");
  }
}
