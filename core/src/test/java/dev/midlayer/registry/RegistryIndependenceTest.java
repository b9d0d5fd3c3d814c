package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.testsupport.TestDriver;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Registration runs one operation at a time per device and per client, not globally (the kernel's
 * per-device unregistration lock): a client stuck in one device's remove holds up only the operations that
 * need that client or that device.
 */
class RegistryIndependenceTest {
  private ActorTestKit testKit;
  private Midlayer midlayer;
  private final CountDownLatch releaseRemove = new CountDownLatch(1);
  private final CountDownLatch inRemove = new CountDownLatch(1);
  private final List<String> calls = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create("independence");
    midlayer = Midlayer.get(testKit.system());
  }

  @AfterEach
  void stop() {
    releaseRemove.countDown();
    testKit.shutdownTestKit();
  }

  /** A client that records its callbacks; its remove of {@code stuckOn} waits for the test. */
  private Client client(String name, String stuckOn, Set<String> declines) {
    return new Client() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public boolean add(Device device, ClientId self) {
        calls.add(name + "+" + device.name());
        return !declines.contains(device.name());
      }

      @Override
      public void remove(Device device, ClientId self, Object data) throws InterruptedException {
        if (device.name().equals(stuckOn)) {
          inRemove.countDown();
          releaseRemove.await(30, TimeUnit.SECONDS);
        }
        calls.add(name + "-" + device.name());
      }
    };
  }

  private Device device(String name) {
    return await(midlayer.registerDevice(name, new TestDriver().ops()));
  }

  @Test
  @DisplayName("a client stuck in the remove of device A while it unregisters holds up neither registering "
      + "nor unregistering device B for the other clients")
  void stuckUnregisteringClientHoldsUpOnlyItsDevice() throws Exception {
    device("A");
    ClientId stuck = await(midlayer.registerClient(client("stuck", "A", Set.of())));
    await(midlayer.registerClient(client("other", "", Set.of())));
    CompletionStage<Done> leaving = midlayer.unregisterClient(stuck);
    assertTrue(inRemove.await(10, TimeUnit.SECONDS), "stuck is in its remove of A");

    Device b = await(midlayer.registerDevice("B", new TestDriver().ops()), "registerDevice(B) while stuck removes A");
    assertTrue(calls.contains("other+B") && !calls.contains("stuck+B"), calls.toString());
    await(midlayer.unregisterDevice(b), "unregisterDevice(B) while stuck removes A");
    assertTrue(calls.contains("other-B"), calls.toString());

    assertFalse(leaving.toCompletableFuture().isDone(), "unregisterClient(stuck) still waits for its remove");
    releaseRemove.countDown();
    await(leaving);
    assertEquals(List.of("stuck+A", "other+A", "other+B", "other-B", "stuck-A"), calls);
  }

  @Test
  @DisplayName("a client stuck in the remove of device A while A unregisters holds up neither a new client "
      + "(added to the other devices) nor unregistering a device it never took")
  void stuckRemoveDuringDeviceUnregistrationHoldsUpOnlyThatDevice() throws Exception {
    Device a = device("A");
    Device c = device("C");
    await(midlayer.registerClient(client("stuck", "A", Set.of("C"))));
    CompletionStage<Done> unplugA = midlayer.unregisterDevice(a);
    assertTrue(inRemove.await(10, TimeUnit.SECONDS), "stuck is in its remove of A");

    ClientId newcomer = await(midlayer.registerClient(client("newcomer", "", Set.of())),
        "registerClient while stuck removes A");
    assertTrue(calls.contains("newcomer+C") && !calls.contains("newcomer+A"), calls.toString());
    await(midlayer.unregisterClient(newcomer), "unregisterClient(newcomer) while stuck removes A");
    await(midlayer.unregisterDevice(c), "unregisterDevice(C), which stuck declined, while stuck removes A");

    assertFalse(unplugA.toCompletableFuture().isDone(), "unregisterDevice(A) still waits for stuck's remove");
    releaseRemove.countDown();
    await(unplugA);
    assertEquals(List.of("stuck+A", "stuck+C", "newcomer+C", "newcomer-C", "stuck-A"), calls);
  }

  @Test
  @DisplayName("an operation that needs the stuck client waits for it, and then runs in arrival order")
  void operationsNeedingTheStuckClientWaitInOrder() throws Exception {
    Device a = device("A");
    await(midlayer.registerClient(client("stuck", "A", Set.of())));
    CompletionStage<Done> unplugA = midlayer.unregisterDevice(a);
    assertTrue(inRemove.await(10, TimeUnit.SECONDS), "stuck is in its remove of A");
    CompletionStage<Device> b = midlayer.registerDevice("B", new TestDriver().ops());
    CompletionStage<Device> d = midlayer.registerDevice("lo%d", new TestDriver().ops());
    assertFalse(b.toCompletableFuture().isDone() || d.toCompletableFuture().isDone(),
        "registering a device needs stuck's add, which waits for its remove of A");
    releaseRemove.countDown();
    await(unplugA);
    assertEquals("B", await(b).name());
    assertEquals("lo0", await(d).name());
    assertEquals(List.of("stuck+A", "stuck-A", "stuck+B", "stuck+lo0"), calls);
  }
}
