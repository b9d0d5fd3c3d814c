package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.assertNotDone;
import static dev.midlayer.testsupport.RegistryAwait.await;
import static dev.midlayer.testsupport.RegistryAwait.block;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.spi.DriverOp;
import dev.midlayer.spi.MissingDriverOpException;
import dev.midlayer.testsupport.RegistryEventLog;
import dev.midlayer.testsupport.RegistryEventLog.Event;
import dev.midlayer.testsupport.RegistryEventLog.Kind;
import dev.midlayer.testsupport.RegistryRecordingClient;
import dev.midlayer.testsupport.TestDriver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Ordering rules of the registry (reference I1, sections 1.2 to 1.6): adds in client registration
 * order, removes in reverse, registerClient in device registration order, the completion points of
 * the registration stages, device naming.
 */
class RegistryOrderingTest {

  private ActorTestKit testKit;
  private Midlayer midlayer;
  private RegistryEventLog log;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    midlayer = Midlayer.get(testKit.system());
    log = new RegistryEventLog();
  }

  @AfterEach
  void stop() {
    testKit.shutdownTestKit();
  }

  // ---- helpers ----

  private ClientId registerClient(String name) {
    return await(midlayer.registerClient(new RegistryRecordingClient(name, log)), "registerClient " + name);
  }

  private Device registerDevice(String name) {
    return await(midlayer.registerDevice(name, new TestDriver().ops()), "registerDevice " + name);
  }

  private static List<String> names(List<Device> devices) {
    return devices.stream().map(Device::name).collect(Collectors.toList());
  }

  private static List<String> clientNames(List<ClientId> clients) {
    return clients.stream().map(ClientId::name).collect(Collectors.toList());
  }

  // ---- adds and removes ----

  @Test
  @DisplayName("adds run in client registration order, for every device")
  void addsRunInClientRegistrationOrder() {
    // Names deliberately not in alphabetical order, so that only registration order explains the result.
    ClientId zeta = registerClient("zeta");
    ClientId alpha = registerClient("alpha");
    ClientId mike = registerClient("mike");
    assertTrue(zeta.id() < alpha.id() && alpha.id() < mike.id(), "client ids grow with registration order");

    for (String dev : List.of("hcaB", "hcaA")) {
      int mark = log.size();
      registerDevice(dev);
      assertEquals(List.of("add zeta " + dev, "add alpha " + dev, "add mike " + dev), log.callbacksSince(mark));
    }
    assertEquals(List.of("zeta", "alpha", "mike"), clientNames(midlayer.clients()));
  }

  @Test
  @DisplayName("unregisterDevice runs remove in reverse client registration order")
  void removeRunsInReverseClientOrder() {
    registerClient("zeta");
    registerClient("alpha");
    registerClient("mike");
    Device b = registerDevice("hcaB");
    Device a = registerDevice("hcaA");

    int mark = log.size();
    await(midlayer.unregisterDevice(a));
    assertEquals(List.of("remove mike hcaA", "remove alpha hcaA", "remove zeta hcaA"), log.callbacksSince(mark));

    mark = log.size();
    await(midlayer.unregisterDevice(b));
    assertEquals(List.of("remove mike hcaB", "remove alpha hcaB", "remove zeta hcaB"), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("reverse order on unregisterDevice skips clients that were unregistered or never added")
  void removeOrderSkipsGoneAndDecliningClients() {
    ClientId c0 = registerClient("c0");
    await(midlayer.registerClient(new RegistryRecordingClient("c1", log).onAdd((d, s) -> false)));
    registerClient("c2");
    registerClient("c3");
    Device dev = registerDevice("hca0");
    await(midlayer.unregisterClient(c0));

    int mark = log.size();
    await(midlayer.unregisterDevice(dev));
    assertEquals(List.of("remove c3 hca0", "remove c2 hca0"), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("registerClient adds the existing devices in device registration order")
  void registerClientAddsExistingDevicesInDeviceRegistrationOrder() {
    registerDevice("hcaC");
    registerDevice("hcaA");
    Device lo = registerDevice("lo%d");
    registerDevice("hcaB");
    assertEquals("lo0", lo.name());
    assertEquals(List.of("hcaC", "hcaA", "lo0", "hcaB"), names(midlayer.devices()));

    int mark = log.size();
    registerClient("ulp");
    assertEquals(List.of("add ulp hcaC", "add ulp hcaA", "add ulp lo0", "add ulp hcaB"), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("registerClient skips a device that is no longer registered and keeps the order of the rest")
  void registerClientOrderAfterDeviceChurn() {
    Device d0 = registerDevice("d0");
    registerDevice("d1");
    registerDevice("d2");
    await(midlayer.unregisterDevice(d0));
    registerDevice("d0"); // re-registered: now the newest device

    int mark = log.size();
    registerClient("ulp");
    assertEquals(List.of("add ulp d1", "add ulp d2", "add ulp d0"), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("unregisterClient removes every device it was added to (and only those), in device order")
  void unregisterClientRemovesEveryDeviceItWasAddedTo() {
    Device d0 = registerDevice("d0");
    Device d1 = registerDevice("d1");
    Device d2 = registerDevice("d2");
    RegistryRecordingClient picky = new RegistryRecordingClient("picky", log)
        .onAdd((d, self) -> !d.name().equals("d1"));
    ClientId pickyId = await(midlayer.registerClient(picky));
    ClientId other = registerClient("other");
    Device d3 = registerDevice("d3");

    int mark = log.size();
    await(midlayer.unregisterClient(pickyId));
    assertEquals(List.of("remove picky d0", "remove picky d2", "remove picky d3"), log.callbacksSince(mark));
    assertEquals(List.of(other), midlayer.clients());

    // The other client is untouched and still gets removes for everything.
    mark = log.size();
    for (Device d : List.of(d0, d1, d2, d3)) {
      await(midlayer.unregisterDevice(d));
    }
    assertEquals(List.of("remove other d0", "remove other d1", "remove other d2", "remove other d3"),
        log.callbacksSince(mark));
  }

  // ---- every interleaving ----

  private static final List<String> CLIENTS = List.of("ulp0", "ulp1", "ulp2");
  private static final List<String> DEVICES = List.of("hca0", "hca1");

  /** The operations of a round, by index: 0..2 the clients, 3..4 the devices. */
  private static String opName(int op) {
    return op < CLIENTS.size() ? CLIENTS.get(op) : DEVICES.get(op - CLIENTS.size());
  }

  private static List<int[]> permutations(int n) {
    List<int[]> out = new ArrayList<>();
    permute(IntStream.range(0, n).toArray(), 0, out);
    return out;
  }

  private static void permute(int[] a, int k, List<int[]> out) {
    if (k == a.length) {
      out.add(a.clone());
      return;
    }
    for (int i = k; i < a.length; i++) {
      int t = a[k]; a[k] = a[i]; a[i] = t;
      permute(a, k + 1, out);
      t = a[k]; a[k] = a[i]; a[i] = t;
    }
  }

  /**
   * A reference model of the ordering rules: it predicts the exact callback sequence of each operation.
   */
  private static final class Model {
    final List<String> clients = new ArrayList<>();
    final List<String> devices = new ArrayList<>();
    final Set<String> added = new HashSet<>();

    List<String> registerDevice(String d) {
      devices.add(d);
      List<String> out = new ArrayList<>();
      for (String c : clients) {
        out.add("add " + c + " " + d);
        added.add(c + " " + d);
      }
      return out;
    }

    List<String> registerClient(String c) {
      clients.add(c);
      List<String> out = new ArrayList<>();
      for (String d : devices) {
        out.add("add " + c + " " + d);
        added.add(c + " " + d);
      }
      return out;
    }

    List<String> unregisterDevice(String d) {
      devices.remove(d);
      List<String> out = new ArrayList<>();
      for (int i = clients.size() - 1; i >= 0; i--) {
        if (added.remove(clients.get(i) + " " + d)) {
          out.add("remove " + clients.get(i) + " " + d);
        }
      }
      return out;
    }

    List<String> unregisterClient(String c) {
      clients.remove(c);
      List<String> out = new ArrayList<>();
      for (String d : devices) {
        if (added.remove(c + " " + d)) {
          out.add("remove " + c + " " + d);
        }
      }
      return out;
    }
  }

  @TestFactory
  @DisplayName("every order of registering 3 clients and 2 devices, and of unregistering them, gives "
      + "adds in client order, removes in reverse client order, registerClient adds in device order, "
      + "unregisterClient removes every device it was added to")
  Stream<DynamicTest> everyRegistrationAndUnregistrationOrder() {
    List<int[]> perms = permutations(CLIENTS.size() + DEVICES.size());
    assertEquals(120, perms.size());
    // Each registration order is paired with a different unregistration order; stepping by 7 (coprime
    // with 120) uses every unregistration order exactly once across the rounds.
    return IntStream.range(0, perms.size()).mapToObj(i -> {
      int[] reg = perms.get(i);
      int[] unreg = perms.get((i * 7) % perms.size());
      String title = "register " + describe(reg) + "; unregister " + describe(unreg);
      return DynamicTest.dynamicTest(title, () -> runRound(reg, unreg));
    });
  }

  private static String describe(int[] order) {
    return IntStream.of(order).mapToObj(RegistryOrderingTest::opName).collect(Collectors.joining(" "));
  }

  private void runRound(int[] reg, int[] unreg) {
    Model model = new Model();
    Map<String, ClientId> clientIds = new LinkedHashMap<>();
    Map<String, Device> devices = new LinkedHashMap<>();
    try {
      for (int op : reg) {
        String name = opName(op);
        int mark = log.size();
        List<String> expected;
        if (op < CLIENTS.size()) {
          expected = model.registerClient(name);
          clientIds.put(name, await(midlayer.registerClient(new RegistryRecordingClient(name, log)), name));
        } else {
          expected = model.registerDevice(name);
          Device d = await(midlayer.registerDevice(name, new TestDriver().ops()), name);
          assertEquals(name, d.name());
          devices.put(name, d);
        }
        assertEquals(expected, log.callbacksSince(mark), "callbacks of registering " + name);
        assertEquals(model.clients, clientNames(midlayer.clients()), "listed clients after registering " + name);
        assertEquals(model.devices, names(midlayer.devices()), "listed devices after registering " + name);
      }
      for (int op : unreg) {
        String name = opName(op);
        int mark = log.size();
        List<String> expected;
        if (op < CLIENTS.size()) {
          expected = model.unregisterClient(name);
          await(midlayer.unregisterClient(clientIds.remove(name)), "unregisterClient " + name);
        } else {
          expected = model.unregisterDevice(name);
          Device d = devices.remove(name);
          await(midlayer.unregisterDevice(d), "unregisterDevice " + name);
          assertEquals(DeviceState.UNREGISTERED, d.state());
        }
        assertEquals(expected, log.callbacksSince(mark), "callbacks of unregistering " + name);
        assertEquals(model.clients, clientNames(midlayer.clients()), "listed clients after unregistering " + name);
        assertEquals(model.devices, names(midlayer.devices()), "listed devices after unregistering " + name);
      }
      assertTrue(model.added.isEmpty());
      assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
    } finally {
      // Leave the registry empty for the next round even if this one failed.
      for (ClientId c : clientIds.values()) {
        midlayer.unregisterClient(c).toCompletableFuture().exceptionally(e -> null);
      }
      for (Device d : devices.values()) {
        midlayer.unregisterDevice(d).toCompletableFuture().exceptionally(e -> null);
      }
    }
  }

  // ---- completion points ----

  @Test
  @DisplayName("registerDevice's stage completes only after every client's add finished")
  void registerDeviceCompletesAfterEveryAdd() {
    CountDownLatch inAdd = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    registerClient("c0");
    await(midlayer.registerClient(new RegistryRecordingClient("slow", log).onAdd((d, s) -> {
      inAdd.countDown();
      block(release);
      return true;
    })));
    registerClient("c2");

    CompletableFuture<Device> registered = log.markOnCompletion(
        midlayer.registerDevice("hca0", new TestDriver().ops()), "registerDevice completed");
    try {
      await(inAdd, "slow client's add");
      assertNotDone(registered, "registerDevice while a client's add runs");
    } finally {
      release.countDown();
    }
    await(registered);

    long completed = log.markSeq("registerDevice completed");
    List<Event> addEnds = log.filter(e -> e.kind() == Kind.ADD_END);
    assertEquals(3, addEnds.size(), log.toString());
    for (Event e : addEnds) {
      assertTrue(e.seq() < completed, "add of " + e.client() + " finished after the stage completed:\n" + log);
    }
  }

  @Test
  @DisplayName("unregisterDevice's stage completes only after the last remove finished")
  void unregisterDeviceCompletesAfterLastRemove() {
    CountDownLatch inRemove = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // The first client registered gets remove last: it is the one that blocks.
    await(midlayer.registerClient(new RegistryRecordingClient("last", log).onRemove((d, s, data) -> {
      inRemove.countDown();
      block(release);
    })));
    registerClient("c1");
    registerClient("c2");
    Device dev = registerDevice("hca0");

    CompletableFuture<Done> unregistered = log.markOnCompletion(midlayer.unregisterDevice(dev),
        "unregisterDevice completed");
    try {
      await(inRemove, "last client's remove");
      assertNotDone(unregistered, "unregisterDevice while the last remove runs");
      assertEquals(DeviceState.UNREGISTERING, dev.state());
    } finally {
      release.countDown();
    }
    await(unregistered);

    long completed = log.markSeq("unregisterDevice completed");
    List<Event> removeEnds = log.filter(e -> e.kind() == Kind.REMOVE_END);
    assertEquals(List.of("remove-end c2 hca0", "remove-end c1 hca0", "remove-end last hca0"),
        removeEnds.stream().map(Event::brief).collect(Collectors.toList()));
    for (Event e : removeEnds) {
      assertTrue(e.seq() < completed, "remove of " + e.client() + " finished after the stage completed:\n" + log);
    }
    assertEquals(DeviceState.UNREGISTERED, dev.state());
  }

  @Test
  @DisplayName("registerClient's and unregisterClient's stages complete only after their last callback")
  void clientStagesCompleteAfterLastCallback() {
    registerDevice("d0");
    registerDevice("d1");
    CompletableFuture<ClientId> registered = log.markOnCompletion(
        midlayer.registerClient(new RegistryRecordingClient("ulp", log)), "registerClient completed");
    ClientId id = await(registered);
    long regDone = log.markSeq("registerClient completed");
    List<Event> addEnds = log.filter(e -> e.kind() == Kind.ADD_END);
    assertEquals(2, addEnds.size());
    addEnds.forEach(e -> assertTrue(e.seq() < regDone, log.toString()));

    await(log.markOnCompletion(midlayer.unregisterClient(id), "unregisterClient completed"));
    long unregDone = log.markSeq("unregisterClient completed");
    List<Event> removeEnds = log.filter(e -> e.kind() == Kind.REMOVE_END);
    assertEquals(2, removeEnds.size());
    removeEnds.forEach(e -> assertTrue(e.seq() < unregDone, log.toString()));
  }

  // ---- naming ----

  @Test
  @DisplayName("names from a pattern like lo%d take the lowest free index")
  void patternNamesTakeLowestFreeIndex() {
    Device lo0 = registerDevice("lo%d");
    Device lo1 = registerDevice("lo%d");
    Device lo2 = registerDevice("lo%d");
    assertEquals(List.of("lo0", "lo1", "lo2"), List.of(lo0.name(), lo1.name(), lo2.name()));

    await(midlayer.unregisterDevice(lo1));
    Device again = registerDevice("lo%d");
    assertEquals("lo1", again.name(), "the freed index is reused");
    assertEquals("lo3", registerDevice("lo%d").name());

    await(midlayer.unregisterDevice(lo0));
    registerDevice("lo5"); // an explicit name in the pattern's range is skipped when its turn comes
    assertEquals("lo0", registerDevice("lo%d").name());
    assertEquals("lo4", registerDevice("lo%d").name());
    assertEquals("lo6", registerDevice("lo%d").name());
    // Another pattern counts on its own.
    assertEquals("mlx0", registerDevice("mlx%d").name());
    assertEquals(List.of("lo2", "lo1", "lo3", "lo5", "lo0", "lo4", "lo6", "mlx0"), names(midlayer.devices()));
  }

  @Test
  @DisplayName("a taken explicit name is refused with NameTakenException and nothing changes")
  void takenExplicitNameIsRefused() {
    Device first = registerDevice("mlx0");
    registerClient("ulp");
    RegistrySnapshot before = midlayer.snapshot();
    int mark = log.size();
    TestDriver second = new TestDriver();

    NameTakenException e = assertFailsWith(NameTakenException.class, midlayer.registerDevice("mlx0", second.ops()));
    assertTrue(e.getMessage().contains("mlx0"), e.getMessage());

    assertEquals(before, midlayer.snapshot());
    assertSame(first, midlayer.device("mlx0").orElseThrow());
    assertEquals(DeviceState.REGISTERED, first.state());
    assertEquals(List.of(), log.callbacksSince(mark), "no client callback for a refused device");
    assertNull(second.device(), "the refused driver's enable_driver was not called");
    assertNotNull(await(first.queryPort(1)), "the registered device is still usable");
    // A pattern skips the taken name instead.
    assertEquals("mlx1", registerDevice("mlx%d").name());
  }

  @Test
  @DisplayName("a device whose ops lack a mandatory op is refused with MissingDriverOpException naming query_port")
  void missingMandatoryOpIsRefused() {
    registerClient("ulp");
    RegistrySnapshot before = midlayer.snapshot();
    int mark = log.size();

    MissingDriverOpException e = assertThrows(MissingDriverOpException.class,
        () -> midlayer.registerDevice("lo%d", new TestDriver().builder().queryPort(null).build()));
    assertTrue(e.getMessage().contains("query_port"), e.getMessage());
    assertEquals(List.of(DriverOp.QUERY_PORT), e.missing());

    assertEquals(before, midlayer.snapshot());
    assertEquals(List.of(), log.callbacksSince(mark));
    assertEquals("lo0", registerDevice("lo%d").name(), "the refused device took no name");
  }

  @Test
  @DisplayName("a device lacking several mandatory ops is refused with all of them named")
  void missingSeveralMandatoryOpsAreNamed() {
    MissingDriverOpException e = assertThrows(MissingDriverOpException.class,
        () -> midlayer.registerDevice("lo0", new TestDriver().builder().queryPort(null).queryDevice(null).build()));
    assertTrue(e.getMessage().contains("query_port") && e.getMessage().contains("query_device"), e.getMessage());
    assertEquals(List.of(DriverOp.QUERY_DEVICE, DriverOp.QUERY_PORT), e.missing());
    assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
  }
}
