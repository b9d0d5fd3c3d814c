package dev.midlayer.spi;

import static dev.midlayer.testsupport.RegistryAwait.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.device.DriverOpFailedException;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.TestDriver;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A device's driver ops run on its actor, as do its may-sleep verbs: an op that calls one of them and waits
 * would wait for itself. The midlayer refuses the call with {@link DriverSelfWaitException} instead of
 * hanging.
 */
class DriverSelfWaitTest {
  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void start() {
    kit = ActorTestKit.create("self-wait");
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  private Throwable registerWithEnable(Consumer<Device> inEnable) {
    TestDriver driver = new TestDriver();
    DeviceOps ops = driver.builder().enableDriver(dd -> inEnable.accept(Internal.handleOf(dd))).build();
    return failure(midlayer.registerDevice("sw%d", ops));
  }

  @Test
  @DisplayName("enable_driver waiting for a may-sleep verb of its own device fails registration at once with "
      + "DriverSelfWaitException naming the verb, the device and the op, instead of a hang")
  void enableDriverWaitingForItsOwnDeviceIsRefused() {
    for (String verb : new String[] {"queryPort", "queryDevice", "allocPd", "createCq", "registerEventHandler",
        "unregisterDevice"}) {
      Throwable t = registerWithEnable(d -> {
        switch (verb) {
          case "queryPort" -> d.queryPort(1).toCompletableFuture().join();
          case "queryDevice" -> d.queryDevice().toCompletableFuture().join();
          case "allocPd" -> d.allocPd().toCompletableFuture().join();
          case "createCq" -> d.createCq(4, null, null, null).toCompletableFuture().join();
          case "registerEventHandler" -> d.registerEventHandler("h", e -> { }).toCompletableFuture().join();
          default -> midlayer.unregisterDevice(d).toCompletableFuture().join();
        }
      });
      DriverOpFailedException failed = assertInstanceOf(DriverOpFailedException.class, t, verb);
      DriverSelfWaitException selfWait = assertInstanceOf(DriverSelfWaitException.class, failed.getCause(), verb);
      assertTrue(selfWait.getMessage().contains(verb) && selfWait.getMessage().contains("enable_driver"),
          selfWait.getMessage());
    }
  }

  @Test
  @DisplayName("enable_driver may call the non-sleeping verbs and dispatch_event, and may-sleep verbs of other devices")
  void enableDriverMayUseNonSleepingVerbs() throws Exception {
    TestDriver otherDriver = new TestDriver();
    Device other = dev.midlayer.testsupport.RegistryAwait.await(midlayer.registerDevice("other", otherDriver.ops()));
    TestDriver driver = new TestDriver();
    // What each call gave inside enable_driver, checked on the test thread once registration completed.
    List<Object> results = Collections.synchronizedList(new ArrayList<>());
    DeviceOps ops = driver.builder().enableDriver(dd -> {
      dd.dispatchPortEvent(dev.midlayer.ib.AsyncEventType.SM_CHANGE, 1);
      results.add("dispatched");
      results.add(Internal.handleOf(dd).cachedPort(1));
      results.add(other.queryPort(1).toCompletableFuture().join());
    }).build();
    Device fine = dev.midlayer.testsupport.RegistryAwait.await(midlayer.registerDevice("fine%d", ops));
    assertEquals(List.of("dispatched", driver.queryPort(1), otherDriver.queryPort(1)), results,
        "dispatch_event returned, cachedPort gave this device's port, queryPort of the other device answered");
    assertEquals(DeviceState.REGISTERED, fine.state());
  }
}
