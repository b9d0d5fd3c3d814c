package dev.midlayer.spi;

import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.EventFixtures.awaitFailure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.device.DriverOpFailedException;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.testsupport.ContextTestClient;
import dev.midlayer.testsupport.TestDriver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The driver SPI: ops table completeness, attribute validation, and driver ops failing at registration. */
class DeviceOpsTest {
  private ActorTestKit kit;

  private Midlayer midlayer() {
    if (kit == null) {
      kit = ActorTestKit.create("DeviceOpsTest");
    }
    return Midlayer.get(kit.system());
  }

  @AfterEach
  void shutdown() {
    if (kit != null) {
      kit.shutdownTestKit();
      kit = null;
    }
  }

  private static DeviceAttributes oneAttrs() {
    return DeviceAttributes.builder().build();
  }

  private static PortAttributes portAttrs() {
    return PortAttributes.builder().build();
  }

  // ---- the ops table ----

  @Test
  @DisplayName("missingMandatoryOps lists QUERY_DEVICE and QUERY_PORT when absent, in DriverOp order")
  void missingMandatoryOpsListsQueryDeviceAndQueryPort() {
    assertEquals(List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT),
        DeviceOps.builder("empty").build().missingMandatoryOps());
    assertEquals(List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT),
        DeviceOps.builder("optional-only").enableDriver(d -> {}).deallocDriver(d -> {}).build()
            .missingMandatoryOps());
    assertEquals(List.of(DriverOp.QUERY_PORT),
        DeviceOps.builder("no-port").queryDevice(DeviceOpsTest::oneAttrs).build().missingMandatoryOps());
    assertEquals(List.of(DriverOp.QUERY_DEVICE),
        DeviceOps.builder("no-dev").queryPort(p -> portAttrs()).build().missingMandatoryOps());
    DeviceOps minimal = DeviceOps.builder("minimal").queryDevice(DeviceOpsTest::oneAttrs)
        .queryPort(p -> portAttrs()).build();
    assertEquals(List.of(), minimal.missingMandatoryOps(), "enable/dealloc are optional");
    assertTrue(minimal.has(DriverOp.QUERY_DEVICE));
    assertTrue(minimal.has(DriverOp.QUERY_PORT));
    assertFalse(minimal.has(DriverOp.ENABLE_DRIVER));
    assertFalse(minimal.has(DriverOp.DEALLOC_DRIVER));
    assertEquals(List.of(), new TestDriver().ops().missingMandatoryOps());
  }

  @Test
  @DisplayName("DriverOp: query_device and query_port are mandatory, enable/dealloc optional, all may sleep")
  void driverOpTable() {
    assertEquals(List.of("query_device", "query_port", "enable_driver", "dealloc_driver", "create_qp",
        "dereg_mr/unmap_fmr DMA wait"),
        List.of(DriverOp.values()).stream().map(DriverOp::kernelName).toList());
    assertEquals(List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT),
        List.of(DriverOp.values()).stream().filter(DriverOp::mandatory).toList());
    for (DriverOp op : DriverOp.values()) {
      assertTrue(op.maySleep(), op + " is a control-path op");
    }
  }

  @Test
  @DisplayName("MissingDriverOpException's message names the driver and the kernel op names")
  void missingDriverOpExceptionNamesKernelOps() {
    MissingDriverOpException two = new MissingDriverOpException("half",
        List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT));
    assertEquals("driver 'half' lacks mandatory ops query_device, query_port", two.getMessage());
    assertEquals(List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT), two.missing());
    MissingDriverOpException one = new MissingDriverOpException("nearly", List.of(DriverOp.QUERY_PORT));
    assertEquals("driver 'nearly' lacks mandatory op query_port", one.getMessage());
  }

  @Test
  @DisplayName("registerDevice refuses an incomplete ops table at once with MissingDriverOpException")
  void registerDeviceRefusesAnIncompleteOpsTable() {
    Midlayer ml = midlayer();
    DeviceOps noPort = DeviceOps.builder("noport").queryDevice(DeviceOpsTest::oneAttrs).build();
    MissingDriverOpException ex = assertThrows(MissingDriverOpException.class,
        () -> ml.registerDevice("np0", noPort));
    assertTrue(ex.getMessage().contains("'noport'") && ex.getMessage().contains("query_port"), ex.getMessage());
    assertFalse(ex.getMessage().contains("query_device"), ex.getMessage());
    assertEquals(List.of(DriverOp.QUERY_PORT), ex.missing());
    MissingDriverOpException both = assertThrows(MissingDriverOpException.class,
        () -> ml.registerDevice("np1", DeviceOps.builder("nothing").build()));
    assertTrue(both.getMessage().contains("query_device, query_port"), both.getMessage());
    assertTrue(ml.devices().isEmpty());
    // The names were never taken.
    assertEquals("np0", await(ml.registerDevice("np0", new TestDriver().ops())).name());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "\t\n"})
  @DisplayName("DeviceOps.builder rejects a blank driver name")
  void builderRejectsBlankDriverName(String name) {
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> DeviceOps.builder(name));
    assertEquals("driverName", ex.field());
  }

  @Test
  @DisplayName("DeviceOps.builder rejects a null driver name")
  void builderRejectsNullDriverName() {
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class, () -> DeviceOps.builder(null));
    assertEquals("driverName", ex.field());
    assertEquals("x", DeviceOps.builder("x").build().driverName());
  }

  // ---- attributes ----

  @ParameterizedTest
  @ValueSource(ints = {0, -1, 256, Integer.MIN_VALUE})
  @DisplayName("DeviceAttributes rejects a port count outside 1..255 (0 included)")
  void deviceAttributesRejectBadPortCount(int ports) {
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
        () -> DeviceAttributes.builder().physPortCount(ports).build());
    assertEquals("physPortCount", ex.field());
    assertTrue(ex.getMessage().contains(Integer.toString(ports)), ex.getMessage());
  }

  @Test
  @DisplayName("DeviceAttributes accepts 1 and 255 ports and rejects a null firmware version")
  void deviceAttributesBounds() {
    assertEquals(1, DeviceAttributes.builder().physPortCount(1).build().physPortCount());
    assertEquals(255, DeviceAttributes.builder().physPortCount(255).build().physPortCount());
    assertEquals(1, DeviceAttributes.builder().build().physPortCount(), "default is one port");
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
        () -> DeviceAttributes.builder().firmwareVersion(null).build());
    assertEquals("firmwareVersion", ex.field());
  }

  @Test
  @DisplayName("PortAttributes rejects an empty or null GID table")
  void portAttributesRejectEmptyGidTable() {
    InvalidArgumentException empty = assertThrows(InvalidArgumentException.class,
        () -> PortAttributes.builder().gids(List.of()).build());
    assertEquals("gids", empty.field());
    InvalidArgumentException none = assertThrows(InvalidArgumentException.class,
        () -> PortAttributes.builder().gids(null).build());
    assertEquals("gids", none.field());
  }

  @Test
  @DisplayName("PortAttributes rejects activeMtu > maxMtu and accepts activeMtu <= maxMtu")
  void portAttributesRejectActiveMtuAboveMaxMtu() {
    InvalidArgumentException ex = assertThrows(InvalidArgumentException.class,
        () -> PortAttributes.builder().maxMtu(Mtu.MTU_1024).activeMtu(Mtu.MTU_2048).build());
    assertEquals("activeMtu", ex.field());
    assertTrue(ex.getMessage().contains("MTU_2048") && ex.getMessage().contains("MTU_1024"), ex.getMessage());
    assertEquals(Mtu.MTU_1024, PortAttributes.builder().maxMtu(Mtu.MTU_1024).activeMtu(Mtu.MTU_1024).build()
        .activeMtu());
    assertEquals(Mtu.MTU_256, PortAttributes.builder().maxMtu(Mtu.MTU_4096).activeMtu(Mtu.MTU_256).build()
        .activeMtu());
    for (String field : List.of("state", "maxMtu", "activeMtu", "linkLayer")) {
      PortAttributes.Builder b = PortAttributes.builder();
      switch (field) {
        case "state" -> b.state(null);
        case "maxMtu" -> b.maxMtu(null);
        case "activeMtu" -> b.activeMtu(null);
        default -> b.linkLayer(null);
      }
      assertEquals(field, assertThrows(InvalidArgumentException.class, b::build).field());
    }
  }

  @Test
  @DisplayName("PortAttributes keeps its own immutable copy of the GID table; withState changes only the state")
  void portAttributesCopyTheGidTable() {
    List<Gid> source = new ArrayList<>(List.of(Gid.linkLocal(1)));
    PortAttributes p = PortAttributes.builder().gids(source).lid(5).build();
    source.add(Gid.linkLocal(2));
    assertEquals(List.of(Gid.linkLocal(1)), p.gids());
    assertThrows(UnsupportedOperationException.class, () -> p.gids().add(Gid.linkLocal(3)));
    PortAttributes down = p.withState(PortState.DOWN);
    assertEquals(PortState.DOWN, down.state());
    assertEquals(p.gids(), down.gids());
    assertEquals(5, down.lid());
  }

  @Test
  @DisplayName("Gid.toString formats 8 groups of 4 lowercase hex digits, e.g. fe80:0000:0000:0000:...")
  void gidToStringFormatsEightGroups() {
    assertEquals("fe80:0000:0000:0000:0002:c903:0000:1234", Gid.linkLocal(0x0002_c903_0000_1234L).toString());
    assertEquals("fe80:0000:0000:0000:0000:0000:0000:0001", Gid.linkLocal(1).toString());
    assertEquals("0000:0000:0000:0000:0000:0000:0000:0000", new Gid(0, 0).toString());
    assertEquals("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", new Gid(-1L, -1L).toString());
    assertEquals("0123:4567:89ab:cdef:fedc:ba98:7654:3210",
        new Gid(0x0123_4567_89ab_cdefL, 0xfedc_ba98_7654_3210L).toString());
    assertEquals(0xfe80_0000_0000_0000L, Gid.linkLocal(7).subnetPrefix());
  }

  // ---- driver ops failing at registration ----

  private record Refusal(Throwable failure, List<Device> before, ContextTestClient watcher) {}

  /**
   * Registers a good device and a watching client, then {@code ops} under {@code name}: returns what the
   * stage failed with, checking that the listing did not change and the watcher got no add.
   */
  private Refusal refuse(String name, DeviceOps ops) {
    Midlayer ml = midlayer();
    Device good = await(ml.registerDevice("good%d", new TestDriver().ops()));
    ContextTestClient watcher = new ContextTestClient("watcher");
    await(ml.registerClient(watcher));
    List<Device> before = ml.devices();
    assertEquals(List.of(good), before);

    Throwable failure = awaitFailure(ml.registerDevice(name, ops));

    assertEquals(before, ml.devices(), "a refused device is never listed");
    assertEquals(List.of(good.name()), watcher.added(), "no client got add for the refused device");
    return new Refusal(failure, before, watcher);
  }

  private void assertNameIsFree(String requested, String expectedName, Refusal r) {
    Midlayer ml = midlayer();
    TestDriver driver = new TestDriver();
    Device again = await(ml.registerDevice(requested, driver.ops()));
    assertEquals(expectedName, again.name());
    List<Device> expected = new ArrayList<>(r.before());
    expected.add(again);
    assertEquals(expected, ml.devices());
    assertTrue(r.watcher().added().contains(expectedName), "the re-registered device is announced");
  }

  @Test
  @DisplayName("query_device throwing fails the stage with DriverOpFailedException naming query_device; "
      + "nothing listed, name free for reuse")
  void queryDeviceThrowingFailsRegistrationAndLeavesNoTrace() {
    IOException cause = new IOException("firmware not responding");
    DeviceOps broken = DeviceOps.builder("broken").queryDevice(() -> {
      throw cause;
    }).queryPort(p -> portAttrs()).build();
    Refusal r = refuse("flaky0", broken);
    DriverOpFailedException ex = assertInstanceOf(DriverOpFailedException.class, r.failure());
    assertTrue(ex.getMessage().startsWith("query_device failed on device flaky0"), ex.getMessage());
    assertSame(cause, ex.getCause());
    assertFalse(midlayer().device("flaky0").isPresent());
    assertNameIsFree("flaky0", "flaky0", r);
  }

  @Test
  @DisplayName("a failed registration with a %d pattern frees the index: the next registration gets it")
  void failedPatternRegistrationFreesTheIndex() {
    DeviceOps broken = DeviceOps.builder("broken").queryDevice(() -> {
      throw new IllegalStateException("no");
    }).queryPort(p -> portAttrs()).build();
    Refusal r = refuse("pat%d", broken);
    assertTrue(r.failure().getMessage().contains("query_device failed on device pat0"), r.failure().getMessage());
    assertNameIsFree("pat%d", "pat0", r);
  }

  @Test
  @DisplayName("query_device returning null fails the stage with DriverOpFailedException naming query_device")
  void queryDeviceReturningNullFailsRegistration() {
    DeviceOps nulls = DeviceOps.builder("nulls").queryDevice(() -> null).queryPort(p -> portAttrs()).build();
    Refusal r = refuse("null0", nulls);
    DriverOpFailedException ex = assertInstanceOf(DriverOpFailedException.class, r.failure());
    assertTrue(ex.getMessage().contains("query_device"), ex.getMessage());
    assertInstanceOf(NullPointerException.class, ex.getCause());
    assertNameIsFree("null0", "null0", r);
  }

  @Test
  @DisplayName("query_port throwing for one port fails the stage with DriverOpFailedException naming query_port")
  void queryPortThrowingFailsRegistration() {
    AtomicInteger calls = new AtomicInteger();
    DeviceOps badPort = DeviceOps.builder("badport")
        .queryDevice(() -> DeviceAttributes.builder().physPortCount(3).build())
        .queryPort(p -> {
          calls.incrementAndGet();
          if (p == 2) {
            throw new IOException("port 2 unreadable");
          }
          return portAttrs();
        }).build();
    Refusal r = refuse("bp0", badPort);
    DriverOpFailedException ex = assertInstanceOf(DriverOpFailedException.class, r.failure());
    assertTrue(ex.getMessage().startsWith("query_port failed on device bp0"), ex.getMessage());
    assertEquals(2, calls.get(), "set-up stops at the first failing port");
    assertNameIsFree("bp0", "bp0", r);
  }

  @Test
  @DisplayName("enable_driver throwing fails the stage with DriverOpFailedException naming enable_driver")
  void enableDriverThrowingFailsRegistration() {
    DeviceOps badEnable = new TestDriver().builder()
        .enableDriver(d -> {
          throw new IOException("cannot start");
        })
        .build();
    Refusal r = refuse("en0", badEnable);
    DriverOpFailedException ex = assertInstanceOf(DriverOpFailedException.class, r.failure());
    assertTrue(ex.getMessage().startsWith("enable_driver failed on device en0"), ex.getMessage());
    assertNameIsFree("en0", "en0", r);
  }

  @Test
  @DisplayName("a driver op throwing an Error fails the registration instead of wedging the registry")
  void driverOpThrowingAnErrorFailsRegistration() {
    Midlayer ml = midlayer();
    DeviceOps erring = DeviceOps.builder("erring").queryDevice(() -> {
      throw new AssertionError("driver invariant broken");
    }).queryPort(p -> portAttrs()).build();
    Throwable failure = awaitFailure(ml.registerDevice("err0", erring));
    assertNotNull(failure);
    assertTrue(ml.devices().isEmpty());
    assertEquals("ok0", await(ml.registerDevice("ok0", new TestDriver().ops())).name());
  }
}
