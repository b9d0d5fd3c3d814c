package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.midlayer.device.Device;
import dev.midlayer.ib.PortState;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

class MidlayerFabricTest {
  static final List<MidlayerTestKit> kits = new CopyOnWriteArrayList<>();

  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(3).ports(2).build();

  @AfterEach
  void clear() {
    kits.clear();
  }

  @Test
  @DisplayName("N devices of P ports are registered before the test, in order, with distinct names")
  void devicesAndPorts() {
    assertEquals(3, fabric.devices().size());
    assertEquals(fabric.devices(), fabric.kit().midlayer().devices());
    for (Device d : fabric.devices()) {
      assertEquals(2, d.portCount(), d.name());
    }
    assertEquals(3, fabric.devices().stream().map(Device::name).distinct().count());
    fabric.loopback(2).linkDown(2);
    Await.eventually(() -> assertEquals(PortState.DOWN, fabric.device(2).cachedPort(2).state()));
  }

  @Test
  @DisplayName("unplug and replug: clients get remove and add, the index gets a fresh device")
  void unplugAndReplug() {
    CallbackLog log = new CallbackLog();
    fabric.kit().registerClient(new RecordingClient("watcher", log));
    Device old = fabric.device(1);
    fabric.unplug(1);
    assertEquals(2, fabric.kit().midlayer().devices().size());
    assertTrue(log.sequence().contains("watcher-" + old.name()), log.sequence()::toString);
    Device fresh = fabric.replug(1);
    assertTrue(log.sequence().contains("watcher+" + fresh.name()), log.sequence()::toString);
    assertTrue(fabric.kit().midlayer().devices().contains(fresh));
    assertEquals(fresh, fabric.device(1));
    assertThrows(IllegalStateException.class, () -> fabric.replug(1));
  }

  /** Two tests that record their kit; one leaks. Run only through EngineTestKit. */
  static class PerMethodScenario {
    @RegisterExtension
    final MidlayerFabric fabric = MidlayerFabric.loopback().build();

    @Test
    void first() {
      kits.add(fabric.kit());
    }

    @Test
    void leaks() {
      kits.add(fabric.kit());
      fabric.kit().registerClient(HostileClients.leaking("leaker"));
    }
  }

  /** Two tests on one fabric. */
  static class PerClassScenario {
    @RegisterExtension
    static final MidlayerFabric FABRIC = MidlayerFabric.loopback().perClass().build();

    @Test
    void one() {
      kits.add(FABRIC.kit());
    }

    @Test
    void two() {
      kits.add(FABRIC.kit());
    }
  }

  @Test
  @DisplayName("per test, each test gets its own midlayer, and a test that leaves something behind fails")
  void perTestAndLeaksFail() {
    Events tests = EngineTestKit.engine("junit-jupiter").selectors(selectClass(PerMethodScenario.class)).execute()
        .testEvents();
    assertEquals(2, tests.finished().count());
    assertEquals(1, tests.failed().count(), "the leaking test fails");
    Throwable why = tests.failed().stream().findFirst().orElseThrow()
        .getRequiredPayload(TestExecutionResult.class).getThrowable().orElseThrow();
    assertTrue(why.getMessage().contains("leaker"), why.getMessage());
    assertEquals(2, kits.size());
    assertNotSame(kits.get(0), kits.get(1));
  }

  @Test
  @DisplayName("perClass shares one midlayer among a class's tests")
  void perClass() {
    Events tests = EngineTestKit.engine("junit-jupiter").selectors(selectClass(PerClassScenario.class)).execute()
        .testEvents();
    assertEquals(2, tests.succeeded().count());
    assertSame(kits.get(0), kits.get(1));
  }

  @Test
  @DisplayName("a DeviceFactory supplies another driver's devices; bad sizes are refused")
  void customFactoryAndBadSizes() {
    AtomicInteger added = new AtomicInteger();
    AtomicInteger removed = new AtomicInteger();
    MidlayerFabric.DeviceFactory counting = new MidlayerFabric.DeviceFactory() {
      @Override
      public Device add(MidlayerTestKit kit, int index, int ports) {
        added.incrementAndGet();
        return MidlayerFabric.LOOPBACK.add(kit, index, ports);
      }

      @Override
      public void remove(MidlayerTestKit kit, Device device) {
        removed.incrementAndGet();
        MidlayerFabric.LOOPBACK.remove(kit, device);
      }
    };
    MidlayerFabric custom = MidlayerFabric.loopback().devices(2).driver(counting).build();
    custom.beforeEach(null);
    assertEquals(2, custom.devices().size());
    custom.afterEach(null);
    assertEquals(2, added.get());
    assertEquals(2, removed.get());
    assertThrows(IllegalStateException.class, custom::kit, "not running after the test");
    assertThrows(IllegalArgumentException.class, () -> MidlayerFabric.loopback().ports(0));
    assertThrows(IllegalArgumentException.class, () -> MidlayerFabric.loopback().devices(-1));
  }
}
