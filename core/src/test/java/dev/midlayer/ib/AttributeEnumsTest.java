package dev.midlayer.ib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The numeric values and ibv_devinfo names of the device and port attribute enums and flags, against Linux's
 * include/rdma/ib_verbs.h (and ib_mad.h) and rdma-core's libibverbs/verbs.h and libibverbs/examples/devinfo.c.
 */
class AttributeEnumsTest {

  @Test
  @DisplayName("active_width: the IB_WIDTH_* values (2X = 16) and devinfo's lane labels")
  void widths() {
    assertEquals(List.of(1, 16, 2, 4, 8), values(PortWidth.values(), PortWidth::value));
    assertEquals(List.of("1X", "2X", "4X", "8X", "12X"), values(PortWidth.values(), PortWidth::label));
    assertEquals(2, PortWidth.WIDTH_4X.value());
    assertEquals(4, PortWidth.WIDTH_4X.lanes());
  }

  @Test
  @DisplayName("active_speed: the IB_SPEED_* values and devinfo's per-lane rates (EDR = 32 is 25.0 Gbps)")
  void speeds() {
    assertEquals(List.of(1, 2, 4, 8, 16, 32, 64, 128, 256), values(PortSpeed.values(), PortSpeed::value));
    assertEquals(List.of("2.5 Gbps", "5.0 Gbps", "10.0 Gbps", "10.0 Gbps", "14.0 Gbps", "25.0 Gbps", "50.0 Gbps",
        "100.0 Gbps", "200.0 Gbps"), values(PortSpeed.values(), PortSpeed::label));
    assertEquals(32, PortSpeed.EDR.value());
    assertEquals("25.0 Gbps", PortSpeed.EDR.label());
  }

  @Test
  @DisplayName("phys_state: the IB_PORT_PHYS_STATE_* values 1..7 and devinfo's names, its spelling included")
  void physStates() {
    assertEquals(List.of(1, 2, 3, 4, 5, 6, 7), values(PhysPortState.values(), PhysPortState::value));
    assertEquals(List.of("SLEEP", "POLLING", "DISABLED", "PORT_CONFIGURATION TRAINNING", "LINK_UP",
        "LINK_ERROR_RECOVERY", "PHY TEST"), values(PhysPortState.values(), PhysPortState::label));
  }

  @Test
  @DisplayName("atomic_cap: ATOMIC_NONE 0, ATOMIC_HCA 1, ATOMIC_GLOB 2")
  void atomicCaps() {
    assertEquals(List.of(0, 1, 2), values(AtomicCap.values(), AtomicCap::value));
    assertEquals(List.of("ATOMIC_NONE", "ATOMIC_HCA", "ATOMIC_GLOB"), values(AtomicCap.values(), AtomicCap::name));
  }

  @Test
  @DisplayName("device_cap_flags: the IB_DEVICE_* bits, decoded in devinfo's order, the rest unknown")
  void deviceCapFlags() {
    assertEquals(0x1L, DeviceCapFlags.RESIZE_MAX_WR);
    assertEquals(0x80L, DeviceCapFlags.CURR_QP_STATE_MOD);
    assertEquals(0x400L, DeviceCapFlags.PORT_ACTIVE_EVENT);
    assertEquals(0x800L, DeviceCapFlags.SYS_IMAGE_GUID);
    assertEquals(0x1000L, DeviceCapFlags.RC_RNR_NAK_GEN);
    assertEquals(0x2000L, DeviceCapFlags.SRQ_RESIZE);
    assertEquals(0x20000L, DeviceCapFlags.MEM_WINDOW);
    assertEquals(0x100000L, DeviceCapFlags.XRC);
    assertEquals(0x200000L, DeviceCapFlags.MEM_MGT_EXTENSIONS);
    assertEquals(0x20000000L, DeviceCapFlags.MANAGED_FLOW_STEERING);
    // ibv_devinfo's unknown_flags mask: every bit it names, 24 of them.
    assertEquals(0x27B67FFFL, DeviceCapFlags.KNOWN);
    long flags = DeviceCapFlags.MEM_MGT_EXTENSIONS | DeviceCapFlags.PORT_ACTIVE_EVENT | (1L << 15) | (1L << 34);
    assertEquals(List.of("PORT_ACTIVE_EVENT", "MEM_MGT_EXTENSIONS"), DeviceCapFlags.names(flags));
    assertEquals((1L << 15) | (1L << 34), DeviceCapFlags.unknown(flags));
  }

  @Test
  @DisplayName("port_cap_flags: the IB_PORT_* bits of PortInfo's CapabilityMask (CM_SUP = 1 << 16)")
  void portCapFlags() {
    assertEquals(0x2, PortCapFlags.SM);
    assertEquals(0x800, PortCapFlags.SYS_IMAGE_GUID_SUP);
    assertEquals(0x10000, PortCapFlags.CM_SUP);
    assertEquals(0x2000000, PortCapFlags.CLIENT_REG_SUP);
  }

  @Test
  @DisplayName("PortAttributes: the physical state follows the logical one unless set; past DOWN needs LINK_UP")
  void physStateGoesWithTheState() {
    assertEquals(PhysPortState.LINK_UP, PortAttributes.builder().build().physState());
    assertEquals(PhysPortState.POLLING, PortAttributes.builder().state(PortState.DOWN).build().physState());
    assertEquals(PhysPortState.DISABLED,
        PortAttributes.builder().state(PortState.DOWN).physState(PhysPortState.DISABLED).build().physState());
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
        () -> PortAttributes.builder().state(PortState.ACTIVE).physState(PhysPortState.POLLING).build());
    assertEquals("physState", ex.field());
    PortAttributes down = PortAttributes.builder().state(PortState.DOWN).physState(PhysPortState.DISABLED).build();
    assertEquals(PhysPortState.DISABLED, down.withState(PortState.DOWN).physState());
    assertEquals(PhysPortState.LINK_UP, down.withState(PortState.ACTIVE).physState());
    PortAttributes b = PortAttributes.builder().build();
    assertEquals(PortWidth.WIDTH_1X, b.activeWidth());
    assertEquals(PortSpeed.SDR, b.activeSpeed());
    assertEquals(0, b.portCapFlags());
    for (String field : List.of("activeWidth", "activeSpeed")) {
      PortAttributes.Builder nul = PortAttributes.builder();
      if (field.equals("activeWidth")) {
        nul.activeWidth(null);
      } else {
        nul.activeSpeed(null);
      }
      assertEquals(field, assertThrows(InvalidArgumentException.class, nul::build).field());
    }
  }

  @Test
  @DisplayName("DeviceAttributes: no capability flags and ATOMIC_NONE by default; atomicCap is required")
  void deviceDefaults() {
    DeviceAttributes a = DeviceAttributes.builder().build();
    assertEquals(0L, a.deviceCapFlags());
    assertEquals(AtomicCap.ATOMIC_NONE, a.atomicCap());
    assertEquals("atomicCap", assertThrows(InvalidArgumentException.class,
        () -> DeviceAttributes.builder().atomicCap(null).build()).field());
  }

  private static <E, T> List<T> values(E[] all, java.util.function.Function<E, T> f) {
    return java.util.Arrays.stream(all).map(f).toList();
  }
}
