package dev.midlayer.drivers.loopback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.DeviceState;
import dev.midlayer.drivers.engine.SoftLimits;
import dev.midlayer.ib.AtomicCap;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.DeviceCapFlags;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PhysPortState;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortCapFlags;
import dev.midlayer.ib.PortSpeed;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.PortWidth;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class LoopbackFabricTest {
  private ActorTestKit testKit;
  private LoopbackFabric fabric;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    fabric = LoopbackFabric.create(testKit.system());
  }

  @AfterEach
  void stop() {
    testKit.shutdownTestKit();
    MonitorVerdict.assertNone(testKit.system());
  }

  private LoopbackDevice add(String name, int ports) throws Exception {
    return fabric.addDevice(name, ports).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("devices register with the midlayer under lo%d names, with unique LIDs and GIDs per port")
  void devicesGetNamesLidsAndGids() throws Exception {
    LoopbackDevice a = add("lo%d", 2);
    LoopbackDevice b = add("lo%d", 1);
    assertEquals("lo0", a.name());
    assertEquals("lo1", b.name());
    assertEquals(List.of(a.device(), b.device()), Midlayer.get(testKit.system()).devices());
    assertEquals(2, a.device().portCount());
    assertEquals(3, List.of(a.lid(1), a.lid(2), b.lid(1)).stream().distinct().count());
    assertNotEquals(a.gid(1), a.gid(2));
    assertEquals(a.lid(2), a.device().cachedPort(2).lid());
    assertEquals(a.gid(1), a.device().cachedPort(1).gids().get(0));
    assertEquals("loopback", a.device().driverName());
    assertEquals(a.nodeGuid(), a.device().attributes().nodeGuid());
  }

  @Test
  @DisplayName("linkDown/linkUp raise PORT_ERR/PORT_ACTIVE with the port cache (state, phys_state) already refreshed")
  void linkEventsReachHandlers() throws Exception {
    LoopbackDevice lo = add("lo%d", 2);
    TestProbe<String> probe = testKit.createTestProbe();
    lo.device().registerEventHandler("probe",
        (AsyncEvent e) -> probe.getRef().tell(e.type() + " port " + e.portNum() + " cache "
            + e.device().cachedPort(e.portNum()).state() + " " + e.device().cachedPort(e.portNum()).physState()))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);

    lo.linkDown(2);
    probe.expectMessage("PORT_ERR port 2 cache DOWN POLLING");
    assertEquals(PortState.DOWN, lo.portState(2));
    lo.linkDown(2); // already down: no second event, else it would come before the PORT_ACTIVE below
    lo.linkUp(2);
    probe.expectMessage("PORT_ACTIVE port 2 cache ACTIVE LINK_UP");
    // A marker instead of a quiet period: the handler gets events in dispatch order, so a second
    // PORT_ACTIVE for port 2 would arrive before the events of this later flap of port 1.
    lo.linkDown(1);
    probe.expectMessage("PORT_ERR port 1 cache DOWN POLLING");
    lo.linkUp(1);
    probe.expectMessage("PORT_ACTIVE port 1 cache ACTIVE LINK_UP");
    assertEquals(PortState.ACTIVE, lo.device().queryPort(2).toCompletableFuture().get(10, TimeUnit.SECONDS).state());
  }

  @Test
  @DisplayName("capabilities as devinfo -v shows them; phys_state LINK_UP, POLLING after linkDown, DISABLED once "
      + "fatal")
  void capabilitiesAndPhysState() throws Exception {
    LoopbackDevice lo = add("lo%d", 2);
    DeviceAttributes a = lo.device().queryDevice().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(DeviceCapFlags.CURR_QP_STATE_MOD | DeviceCapFlags.PORT_ACTIVE_EVENT | DeviceCapFlags.SYS_IMAGE_GUID
        | DeviceCapFlags.RC_RNR_NAK_GEN | DeviceCapFlags.MEM_MGT_EXTENSIONS, a.deviceCapFlags());
    assertEquals(0x00201c80L, a.deviceCapFlags());
    assertEquals(AtomicCap.ATOMIC_GLOB, a.atomicCap());
    PortAttributes up = port(lo, 1);
    assertEquals(PortCapFlags.CM_SUP, up.portCapFlags());
    assertEquals(PortWidth.WIDTH_4X, up.activeWidth());
    assertEquals(PortSpeed.EDR, up.activeSpeed());
    assertEquals(SoftLimits.port().build().activeSpeed(), up.activeSpeed());
    assertEquals(PhysPortState.LINK_UP, up.physState());
    lo.linkDown(2);
    assertEquals(PhysPortState.POLLING, port(lo, 2).physState(), "a link taken down polls for its partner");
    lo.linkUp(2);
    assertEquals(PhysPortState.LINK_UP, port(lo, 2).physState());
    lo.raiseFatal();
    for (int p = 1; p <= 2; p++) {
      PortAttributes dead = port(lo, p);
      assertEquals(PortState.DOWN, dead.state());
      assertEquals(PhysPortState.DISABLED, dead.physState(), "a dead device's ports never come up again");
    }
  }

  private static PortAttributes port(LoopbackDevice lo, int p) throws Exception {
    return lo.device().queryPort(p).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("removeDevice unregisters it; the handle then reports UNREGISTERED")
  void removeDevice() throws Exception {
    LoopbackDevice lo = add("lo%d", 1);
    fabric.removeDevice(lo).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertTrue(Midlayer.get(testKit.system()).devices().isEmpty());
    assertTrue(fabric.devices().isEmpty());
    assertEquals(DeviceState.UNREGISTERED, lo.device().state());
    assertEquals("lo0", add("lo%d", 1).name());
  }

  @Test
  @DisplayName("bad port numbers and port counts are typed errors")
  void badInput() throws Exception {
    assertThrows(InvalidArgumentException.class, () -> fabric.addDevice("lo%d", 0));
    assertThrows(InvalidArgumentException.class, () -> fabric.addDevice("lo%d", 256));
    LoopbackDevice lo = add("lo%d", 1);
    assertThrows(InvalidArgumentException.class, () -> lo.linkDown(2));
    assertThrows(InvalidArgumentException.class, () -> lo.lid(0));
  }
}
