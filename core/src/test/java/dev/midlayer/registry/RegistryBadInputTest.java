package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.testsupport.RegistryEventLog;
import dev.midlayer.testsupport.RegistryRecordingClient;
import dev.midlayer.testsupport.TestDriver;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad input to the registration verbs: argument errors are thrown at once as
 * {@link InvalidArgumentException} naming the field; errors that depend on what is registered fail the
 * stage; either way nothing changes (the registry snapshot, the clients' callbacks, the devices).
 */
class RegistryBadInputTest {

  private ActorTestKit testKit;
  private Midlayer midlayer;
  private RegistryEventLog log;
  private Device lo0;
  private Device mlx0;
  private ClientId ulp;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    midlayer = Midlayer.get(testKit.system());
    log = new RegistryEventLog();
    // Something registered, so that "nothing changed" means something.
    ulp = await(midlayer.registerClient(new RegistryRecordingClient("ulp", log)));
    lo0 = await(midlayer.registerDevice("lo%d", new TestDriver().ops()));
    mlx0 = await(midlayer.registerDevice("mlx0", new TestDriver().ops()));
  }

  @AfterEach
  void stop() {
    testKit.shutdownTestKit();
  }

  /** Runs {@code bad}, then checks that the snapshot, the callbacks and the devices did not change. */
  private <T> T unchangedAfter(Supplier<T> bad) {
    RegistrySnapshot before = midlayer.snapshot();
    int mark = log.size();
    T result = bad.get();
    assertEquals(before, midlayer.snapshot(), "registry snapshot after the error");
    assertEquals(List.of(), log.callbacksSince(mark), "client callbacks caused by the error");
    for (Device d : before.devices()) {
      assertEquals(DeviceState.REGISTERED, d.state(), d.name());
    }
    return result;
  }

  private void assertInvalid(String field, Runnable call) {
    InvalidArgumentException e = unchangedAfter(() -> assertThrows(InvalidArgumentException.class, call::run));
    assertEquals(field, e.field(), "field() of " + e.getMessage());
    assertTrue(e.getMessage().startsWith(field + ":"), e.getMessage());
  }

  /** The registry still works after the error: a round trip of a fresh device. */
  private void stillWorks() {
    int mark = log.size();
    Device d = await(midlayer.registerDevice("check%d", new TestDriver().ops()));
    await(midlayer.unregisterDevice(d));
    assertEquals(List.of("add ulp " + d.name(), "remove ulp " + d.name()), log.callbacksSince(mark));
  }

  // ---- device names ----

  @Test
  @DisplayName("a null device name is refused with InvalidArgumentException(field name)")
  void nullDeviceName() {
    assertInvalid("name", () -> midlayer.registerDevice(null, new TestDriver().ops()));
  }

  @ParameterizedTest(name = "blank device name \"{0}\" is refused")
  @ValueSource(strings = {"", " ", "   ", "\t", "\n"})
  @DisplayName("a blank device name is refused with InvalidArgumentException(field name)")
  void blankDeviceName(String name) {
    assertInvalid("name", () -> midlayer.registerDevice(name, new TestDriver().ops()));
  }

  @ParameterizedTest(name = "device name \"{0}\" is refused")
  @ValueSource(strings = {"lo 0", " lo0", "lo0 ", "lo\t0", "lo\n0", "lo\u20030", "lo\u00a00", "lo/0", "/lo0", "lo0/",
      "mlx5/%d", "lo\u00000", "lo\u001b0"})
  @DisplayName("a device name with whitespace, '/' or a control character is refused (field name)")
  void deviceNameWithWhitespaceOrSlash(String name) {
    assertInvalid("name", () -> midlayer.registerDevice(name, new TestDriver().ops()));
  }

  @Test
  @DisplayName("a device name longer than 63 characters is refused; 63 characters is accepted")
  void deviceNameLength() {
    String n63 = "d".repeat(Midlayer.MAX_DEVICE_NAME_LENGTH);
    assertEquals(63, n63.length());
    assertInvalid("name", () -> midlayer.registerDevice(n63 + "x", new TestDriver().ops()));
    assertInvalid("name", () -> midlayer.registerDevice("p".repeat(62) + "%d", new TestDriver().ops()));
    assertInvalid("name", () -> midlayer.registerDevice("q".repeat(200), new TestDriver().ops()));

    Device ok = await(midlayer.registerDevice(n63, new TestDriver().ops()));
    assertEquals(n63, ok.name());
    Device pattern = await(midlayer.registerDevice("p".repeat(61) + "%d", new TestDriver().ops()));
    assertEquals("p".repeat(61) + "0", pattern.name());
  }

  @Test
  @DisplayName("a name made from a %d pattern is never longer than 63 characters")
  void patternNameNeverExceedsMaxLength() {
    // 61 characters + "%d" is a valid 63-character pattern. Indexes 0..9 give 62 characters, 10..99 give
    // 63; index 100 would give 64, over the limit every name must respect.
    String pattern = "p".repeat(61) + "%d";
    List<Device> made = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      made.add(await(midlayer.registerDevice(pattern, new TestDriver().ops())));
    }
    assertEquals("p".repeat(61) + "99", made.get(99).name());
    assertEquals(Midlayer.MAX_DEVICE_NAME_LENGTH, made.get(99).name().length());

    // The 101st: the registry may refuse it (with a failed stage), but must not list a 64-character name.
    // The 101st is refused with a failed stage naming the field, and nothing changes.
    RegistrySnapshot before = midlayer.snapshot();
    java.util.concurrent.ExecutionException refused = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> midlayer.registerDevice(pattern, new TestDriver().ops()).toCompletableFuture()
            .get(10, java.util.concurrent.TimeUnit.SECONDS));
    assertTrue(refused.getCause() instanceof InvalidArgumentException, refused.getCause().toString());
    assertEquals("name", ((InvalidArgumentException) refused.getCause()).field());
    assertEquals(before, midlayer.snapshot(), "a refused registration changes nothing");
  }

  @ParameterizedTest(name = "device name pattern \"{0}\" is refused")
  @ValueSource(strings = {"lo%d%d", "%d%d", "lo%d_%d", "lo%s", "lo%", "lo%%d", "%", "lo%x0", "lo%D"})
  @DisplayName("a device name with two %d or any other % pattern is refused (field name)")
  void badPatterns(String name) {
    assertInvalid("name", () -> midlayer.registerDevice(name, new TestDriver().ops()));
  }

  @Test
  @DisplayName("null ops are refused with InvalidArgumentException(field ops)")
  void nullOps() {
    assertInvalid("ops", () -> midlayer.registerDevice("lo%d", null));
  }

  // ---- client names and arguments ----

  private static Client namedClient(String name) {
    return new Client() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public boolean add(Device device, ClientId self) {
        throw new AssertionError("a refused client must never get add");
      }

      @Override
      public void remove(Device device, ClientId self, Object clientData) {
        throw new AssertionError("a refused client must never get remove");
      }
    };
  }

  static Stream<Arguments> badClientNames() {
    return Stream.of(Arguments.of((String) null), Arguments.of(""), Arguments.of("  "), Arguments.of("\t\n"));
  }

  @ParameterizedTest(name = "plain client named {0} is refused")
  @MethodSource("badClientNames")
  @DisplayName("a plain client with a null or blank name is refused (field client.name)")
  void plainClientWithBadName(String name) {
    assertInvalid("client.name", () -> midlayer.registerClient(namedClient(name)));
  }

  @ParameterizedTest(name = "typed client named {0} is refused")
  @MethodSource("badClientNames")
  @DisplayName("a typed or actor client with a null or blank name is refused (field name)")
  void typedClientWithBadName(String name) {
    Behavior<ClientMessage> behavior = Behaviors.ignore();
    TestProbe<ClientMessage> probe = testKit.createTestProbe();
    assertInvalid("name", () -> midlayer.registerClient(name, behavior));
    assertInvalid("name", () -> midlayer.registerClient(name, probe.ref()));
  }

  @Test
  @DisplayName("null client, behaviour or actor is refused, naming the argument")
  void nullClientArguments() {
    assertInvalid("client", () -> midlayer.registerClient((Client) null));
    assertInvalid("behavior", () -> midlayer.registerClient("x", (Behavior<ClientMessage>) null));
    assertInvalid("clientActor", () -> midlayer.registerClient("x", (ActorRef<ClientMessage>) null));
    assertInvalid("device", () -> midlayer.unregisterDevice(null));
    assertInvalid("client", () -> midlayer.unregisterClient(null));
    stillWorks();
  }

  // ---- errors that depend on what is registered ----

  @Test
  @DisplayName("registering a client name that is taken fails with NameTakenException and nothing changes")
  void clientNameTwice() {
    NameTakenException e = unchangedAfter(() ->
        assertFailsWith(NameTakenException.class, midlayer.registerClient(namedClient("ulp"))));
    assertTrue(e.getMessage().contains("ulp"), e.getMessage());
    // The same for the typed and actor forms.
    unchangedAfter(() -> assertFailsWith(NameTakenException.class, midlayer.registerClient("ulp", Behaviors.ignore())));
    TestProbe<ClientMessage> probe = testKit.createTestProbe();
    unchangedAfter(() -> assertFailsWith(NameTakenException.class, midlayer.registerClient("ulp", probe.ref())));
    assertEquals(List.of(ulp), midlayer.clients());
    stillWorks();
  }

  @Test
  @DisplayName("registering a device name that is taken fails with NameTakenException and nothing changes")
  void deviceNameTwice() {
    TestDriver refused = new TestDriver();
    unchangedAfter(() -> assertFailsWith(NameTakenException.class, midlayer.registerDevice("mlx0", refused.ops())));
    unchangedAfter(() -> assertFailsWith(NameTakenException.class, midlayer.registerDevice("lo0", refused.ops())));
    assertSame(mlx0, midlayer.device("mlx0").orElseThrow());
    assertEquals(0, refused.queryPortCalls(), "the refused driver was never asked anything");
    stillWorks();
  }

  @Test
  @DisplayName("unregistering a device twice: the second call fails with NotRegisteredException and nothing changes")
  void unregisterDeviceTwice() {
    await(midlayer.unregisterDevice(mlx0));
    int removes = log.filter(e -> e.kind() == RegistryEventLog.Kind.REMOVE).size();
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterDevice(mlx0)));
    assertEquals(removes, log.filter(e -> e.kind() == RegistryEventLog.Kind.REMOVE).size(), "no second remove");
    assertEquals(DeviceState.UNREGISTERED, mlx0.state());
    stillWorks();
  }

  @Test
  @DisplayName("unregistering a stale device handle whose name was registered again fails and leaves the new device alone")
  void unregisterStaleDeviceHandle() {
    await(midlayer.unregisterDevice(mlx0));
    Device again = await(midlayer.registerDevice("mlx0", new TestDriver().ops()));
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterDevice(mlx0)));
    assertEquals(DeviceState.REGISTERED, again.state());
    assertSame(again, midlayer.device("mlx0").orElseThrow());
  }

  @Test
  @DisplayName("unregistering a device of another midlayer fails with NotRegisteredException and nothing changes")
  void unregisterForeignDevice() {
    ActorTestKit other = ActorTestKit.create();
    try {
      Device foreign = await(Midlayer.get(other.system()).registerDevice("mlx0", new TestDriver().ops()));
      unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterDevice(foreign)));
      assertEquals(DeviceState.REGISTERED, foreign.state());
      assertEquals(DeviceState.REGISTERED, mlx0.state());
    } finally {
      other.shutdownTestKit();
    }
  }

  @Test
  @DisplayName("unregistering a client twice: the second call fails with NotRegisteredException and nothing changes")
  void unregisterClientTwice() {
    ClientId second = await(midlayer.registerClient(new RegistryRecordingClient("second", log)));
    await(midlayer.unregisterClient(second));
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(second)));
    assertEquals(List.of(ulp), midlayer.clients());
    stillWorks();
  }

  @Test
  @DisplayName("unregistering a ClientId that was never registered fails with NotRegisteredException and nothing changes")
  void unregisterUnknownClient() {
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(new ClientId(999, "x"))));
    // The right id with the wrong name is not the registered client either.
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class,
        midlayer.unregisterClient(new ClientId(ulp.id(), "impostor"))));
    unchangedAfter(() -> assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(new ClientId(-1, "ulp"))));
    assertEquals(List.of(ulp), midlayer.clients());
    stillWorks();
  }

  @Test
  @DisplayName("after a run of errors the registry is exactly as before and fully working")
  void manyErrorsInARow() {
    RegistrySnapshot before = midlayer.snapshot();
    for (int i = 0; i < 20; i++) {
      assertThrows(InvalidArgumentException.class, () -> midlayer.registerDevice("bad name", new TestDriver().ops()));
      assertFailsWith(NameTakenException.class, midlayer.registerDevice("mlx0", new TestDriver().ops()));
      assertFailsWith(NameTakenException.class, midlayer.registerClient(namedClient("ulp")));
      assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(new ClientId(999, "x")));
    }
    assertEquals(before, midlayer.snapshot());
    assertEquals(List.of("add ulp lo0", "add ulp mlx0"), log.callbacks());
    stillWorks();
    assertEquals("lo1", await(midlayer.registerDevice("lo%d", new TestDriver().ops())).name());
  }
}
