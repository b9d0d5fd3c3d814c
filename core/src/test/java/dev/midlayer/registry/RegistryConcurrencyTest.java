package dev.midlayer.registry;

import static dev.midlayer.testsupport.RegistryAwait.assertNotDone;
import static dev.midlayer.testsupport.RegistryAwait.await;
import static dev.midlayer.testsupport.RegistryAwait.block;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.testsupport.RegistryAwait;
import dev.midlayer.testsupport.RegistryEventLog;
import dev.midlayer.testsupport.RegistryEventLog.Event;
import dev.midlayer.testsupport.RegistryEventLog.Kind;
import dev.midlayer.testsupport.RegistryRecordingClient;
import dev.midlayer.testsupport.TestDriver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The registry under concurrent use (reference I2, I3, 1.3 to 1.6): registrations from many threads
 * at once, checked against a shared, totally ordered event log.
 *
 * <p>The random test's seed is printed and can be fixed with {@code -Dmidlayer.test.seed=N}. The seed
 * fixes the sequence of operations each thread attempts; the interleaving is up to the scheduler.
 */
class RegistryConcurrencyTest {

  private static final int THREADS = 8;
  private static final int DEVICE_SLOTS = 4;
  private static final int CLIENT_SLOTS = 4;
  private static final int OPERATIONS = 400;

  private ActorTestKit testKit;
  private Midlayer midlayer;
  private RegistryEventLog log;
  private ExecutorService pool;
  private final List<CountDownLatch> latches = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    midlayer = Midlayer.get(testKit.system());
    log = new RegistryEventLog();
    pool = Executors.newFixedThreadPool(THREADS);
  }

  @AfterEach
  void stop() throws InterruptedException {
    latches.forEach(CountDownLatch::countDown);
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
    testKit.shutdownTestKit();
  }

  private CountDownLatch latch() {
    CountDownLatch l = new CountDownLatch(1);
    latches.add(l);
    return l;
  }

  // ---- the random test ----

  /** When a registration of a client or device was live, as log sequence numbers. */
  private static final class Lifetime {
    final String name;
    volatile long registered = Long.MAX_VALUE;
    volatile long unregisterRequested = Long.MAX_VALUE;
    volatile long unregistered = Long.MAX_VALUE;

    Lifetime(String name) {
      this.name = name;
    }

    synchronized void unregisterRequestedAt(long seq) {
      unregisterRequested = Math.min(unregisterRequested, seq);
    }

    synchronized void unregisteredAt(long seq) {
      unregistered = Math.min(unregistered, seq);
    }
  }

  private static final int FREE = 0;
  private static final int BUSY = 1;
  private static final int REGISTERED = 2;
  private static final int UNREGISTERING = 3;

  /** A name the threads register and unregister; the state makes each operation legal when issued. */
  private static final class Slot {
    final String name;
    final AtomicInteger state = new AtomicInteger(FREE);
    volatile Device device;
    volatile ClientId client;

    Slot(String name) {
      this.name = name;
    }
  }

  private final Map<Integer, Lifetime> deviceLives = new ConcurrentHashMap<>();
  private final Map<Integer, Lifetime> clientLives = new ConcurrentHashMap<>();
  private final List<String> problems = new CopyOnWriteArrayList<>();

  private RegistryRecordingClient newClient(String name) {
    RegistryRecordingClient c = new RegistryRecordingClient(name, log);
    switch (name) {
      case "ulp1" -> c.onAdd((d, self) -> {
        // Calls back into the device being added.
        d.queryPort(1).toCompletableFuture().get(10, TimeUnit.SECONDS);
        d.setClientData(self, self.id() + "@" + d.index());
        return true;
      }).onRemove((d, self, data) -> {
        if (!(self.id() + "@" + d.index()).equals(data)) {
          problems.add(self + " got clientData " + data + " in remove of " + d.name() + "#" + d.index());
        }
        try {
          d.queryPort(1).toCompletableFuture().get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          problems.add(self + ": device " + d.name() + " unusable in remove: " + e.getCause());
        }
      });
      // Declines devices with an odd index: it must never get remove for those.
      case "ulp3" -> c.onAdd((d, self) -> d.index() % 2 == 0);
      default -> { }
    }
    return c;
  }

  private void registerDevice(Slot s) {
    CompletableFuture<Device> f = midlayer.registerDevice(s.name, new TestDriver().ops()).toCompletableFuture()
        .whenComplete((d, e) -> {
          if (d != null) {
            Lifetime life = new Lifetime(d.name() + "#" + d.index());
            life.registered = log.mark("registered device " + life.name);
            deviceLives.put(d.index(), life);
          }
        });
    s.device = await(f, "registerDevice " + s.name);
  }

  private void unregisterDevice(Device d) {
    Lifetime life = deviceLives.get(d.index());
    life.unregisterRequestedAt(log.mark("unregister device " + life.name));
    CompletableFuture<Done> f = midlayer.unregisterDevice(d).toCompletableFuture()
        .whenComplete((v, e) -> {
          if (e == null) {
            life.unregisteredAt(log.mark("unregistered device " + life.name));
          }
        });
    await(f, "unregisterDevice " + life.name);
  }

  /**
   * Joins an unregistration of {@code d} that another thread started: completes when that one is
   * done (true), or fails with NotRegistered if it is already over (false).
   */
  private boolean joinUnregisterDevice(Device d) throws InterruptedException {
    Lifetime life = deviceLives.get(d.index());
    life.unregisterRequestedAt(log.mark("unregister device (join) " + life.name));
    CompletableFuture<Done> f = midlayer.unregisterDevice(d).toCompletableFuture()
        .whenComplete((v, e) -> {
          if (e == null) {
            life.unregisteredAt(log.mark("unregistered device (join) " + life.name));
          }
        });
    try {
      f.get(RegistryAwait.TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof NotRegisteredException) {
        return false;
      }
      throw new AssertionError("joined unregisterDevice of " + life.name + " failed", e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("joined unregisterDevice of " + life.name + " did not complete");
    }
  }

  private void registerClient(Slot s) {
    CompletableFuture<ClientId> f = midlayer.registerClient(newClient(s.name)).toCompletableFuture()
        .whenComplete((id, e) -> {
          if (id != null) {
            Lifetime life = new Lifetime(id.name() + "#" + id.id());
            life.registered = log.mark("registered client " + life.name);
            clientLives.put(id.id(), life);
          }
        });
    s.client = await(f, "registerClient " + s.name);
  }

  private void unregisterClient(ClientId id) {
    Lifetime life = clientLives.get(id.id());
    life.unregisterRequestedAt(log.mark("unregister client " + life.name));
    CompletableFuture<Done> f = midlayer.unregisterClient(id).toCompletableFuture()
        .whenComplete((v, e) -> {
          if (e == null) {
            life.unregisteredAt(log.mark("unregistered client " + life.name));
          }
        });
    await(f, "unregisterClient " + life.name);
  }

  /** One worker: random legal operations until the shared budget is spent. */
  private void work(Random rnd, Slot[] devices, Slot[] clients, AtomicInteger performed) throws InterruptedException {
    while (performed.get() < OPERATIONS && problems.isEmpty()) {
      boolean device = rnd.nextBoolean();
      Slot s = device ? devices[rnd.nextInt(devices.length)] : clients[rnd.nextInt(clients.length)];
      int st = s.state.get();
      if (st == FREE && s.state.compareAndSet(FREE, BUSY)) {
        try {
          if (device) {
            registerDevice(s);
          } else {
            registerClient(s);
          }
          s.state.set(REGISTERED);
        } catch (Throwable t) {
          s.state.set(FREE);
          throw t;
        }
      } else if (st == REGISTERED && s.state.compareAndSet(REGISTERED, UNREGISTERING)) {
        if (device) {
          Device d = s.device;
          unregisterDevice(d);
        } else {
          unregisterClient(s.client);
        }
        s.state.set(FREE);
      } else if (st == UNREGISTERING && device && rnd.nextInt(4) == 0) {
        // Join an unregistration in progress from another thread: it completes when that one is done,
        // or fails with NotRegistered if it is already over.
        Device d = s.device;
        if (d == null) {
          continue;
        }
        if (joinUnregisterDevice(d) && d.state() != DeviceState.UNREGISTERED) {
          problems.add("joined unregisterDevice of " + d.name() + "#" + d.index() + " completed in state " + d.state());
        }
      } else {
        Thread.onSpinWait();
        continue;
      }
      performed.incrementAndGet();
    }
  }

  @Test
  @DisplayName("8 threads registering and unregistering 4 devices and 4 clients at random keep every "
      + "registry invariant (add/remove alternate, exactly one add per live pair, no callback after an "
      + "unregistration completed, callbacks one at a time per client and per device, device usable in callbacks)")
  void randomConcurrentRegistrationsKeepInvariants() throws Exception {
    String fixed = System.getProperty("midlayer.test.seed");
    long seed = fixed != null && !fixed.isBlank() ? Long.parseLong(fixed.trim()) : System.nanoTime();
    System.out.println("RegistryConcurrencyTest seed = " + seed + " (rerun with -Dmidlayer.test.seed=" + seed + ")");
    String seedNote = " [seed " + seed + ", rerun with -Dmidlayer.test.seed=" + seed + "]";

    Slot[] devices = new Slot[DEVICE_SLOTS];
    Slot[] clients = new Slot[CLIENT_SLOTS];
    for (int i = 0; i < DEVICE_SLOTS; i++) {
      devices[i] = new Slot("hca" + i);
    }
    for (int i = 0; i < CLIENT_SLOTS; i++) {
      clients[i] = new Slot("ulp" + i);
    }
    AtomicInteger performed = new AtomicInteger();
    Random master = new Random(seed);
    List<Future<?>> workers = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      Random rnd = new Random(master.nextLong());
      workers.add(pool.submit(() -> {
        work(rnd, devices, clients, performed);
        return null;
      }));
    }
    for (Future<?> w : workers) {
      try {
        w.get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new AssertionError("a worker failed" + seedNote + ": " + e.getCause(), e.getCause());
      }
    }

    // Clean up: unregister what is left, so every add must have found its remove.
    for (Slot s : clients) {
      if (s.state.get() == REGISTERED) {
        unregisterClient(s.client);
      }
    }
    for (Slot s : devices) {
      if (s.state.get() == REGISTERED) {
        unregisterDevice(s.device);
      }
    }
    assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot(), "everything unregistered" + seedNote);
    assertTrue(problems.isEmpty(), "problems seen by clients" + seedNote + ":\n" + String.join("\n", problems));

    List<String> violations = checkInvariants(log.events());
    if (!violations.isEmpty()) {
      fail(violations.size() + " invariant violation(s)" + seedNote + ":\n"
          + String.join("\n", violations.subList(0, Math.min(20, violations.size()))) + "\nlog:\n" + log);
    }
    long adds = log.filter(e -> e.kind() == Kind.ADD).size();
    System.out.println("RegistryConcurrencyTest: " + performed.get() + " operations, " + deviceLives.size()
        + " device and " + clientLives.size() + " client registrations, " + adds + " adds");
    assertTrue(adds > 0, "the run exercised some adds" + seedNote);
  }

  private record PairKey(int clientId, int deviceIndex) {}

  private List<String> checkInvariants(List<Event> events) {
    List<String> v = new ArrayList<>();

    // Callbacks run one at a time per client and per device (the registry serialises per device and per
    // client, not globally): a client's callbacks never overlap, nor do two callbacks for one device.
    Map<String, Event> open = new HashMap<>();
    for (Event e : events) {
      if (!e.isCallback()) {
        continue;
      }
      boolean start = e.kind() == Kind.ADD || e.kind() == Kind.REMOVE;
      for (String key : List.of("client " + e.clientId(), "device " + e.deviceIndex())) {
        Event running = open.get(key);
        if (start) {
          if (running != null) {
            v.add("callbacks of " + key + " overlap: " + e.seq() + " " + e.brief() + " started while "
                + running.seq() + " " + running.brief() + " runs");
          }
          open.put(key, e);
        } else {
          Kind expected = e.kind() == Kind.ADD_END ? Kind.ADD : Kind.REMOVE;
          if (running == null || running.kind() != expected || running.clientId() != e.clientId()
              || running.deviceIndex() != e.deviceIndex()) {
            v.add("callback end without its start: " + e.seq() + " " + e.brief());
          }
          open.remove(key);
        }
      }
    }

    // The device is usable (registered or being unregistered) in every callback.
    for (Event e : events) {
      if (e.isCallback() && e.deviceState() != DeviceState.REGISTERED && e.deviceState() != DeviceState.UNREGISTERING) {
        v.add("callback on a device in state " + e.deviceState() + ": " + e.seq() + " " + e.brief());
      }
    }

    // Per (client registration, device registration): add, then (only if add returned true) one
    // remove, in that order; never a second add or remove.
    Map<PairKey, List<Event>> byPair = new HashMap<>();
    for (Event e : events) {
      if (e.kind() == Kind.ADD || e.kind() == Kind.ADD_END || e.kind() == Kind.REMOVE) {
        byPair.computeIfAbsent(new PairKey(e.clientId(), e.deviceIndex()), k -> new ArrayList<>()).add(e);
      }
    }
    for (Map.Entry<PairKey, List<Event>> p : byPair.entrySet()) {
      List<Event> es = p.getValue();
      String seq = es.stream().map(e -> e.seq() + ":" + e.kind()).toList().toString();
      if (es.get(0).kind() != Kind.ADD) {
        v.add("pair " + p.getKey() + " does not start with add: " + seq);
        continue;
      }
      long addCount = es.stream().filter(e -> e.kind() == Kind.ADD).count();
      long removeCount = es.stream().filter(e -> e.kind() == Kind.REMOVE).count();
      boolean accepted = es.stream().anyMatch(e -> e.kind() == Kind.ADD_END && e.result());
      if (addCount != 1) {
        v.add("pair " + p.getKey() + " got " + addCount + " adds: " + seq);
      }
      if (accepted && removeCount != 1) {
        v.add("pair " + p.getKey() + " accepted the device but got " + removeCount + " removes: " + seq);
      }
      if (!accepted && removeCount != 0) {
        v.add("pair " + p.getKey() + " declined the device but got remove: " + seq);
      }
    }

    // Per (client name, device name), across registrations: successful adds and removes alternate,
    // starting with an add.
    Map<String, Boolean> addedByName = new HashMap<>();
    for (Event e : events) {
      String key = e.client() + "/" + e.device();
      if (e.kind() == Kind.ADD_END && e.result()) {
        if (Boolean.TRUE.equals(addedByName.put(key, true))) {
          v.add("two adds without a remove between for " + key + " at " + e.seq());
        }
      } else if (e.kind() == Kind.REMOVE) {
        if (!Boolean.TRUE.equals(addedByName.put(key, false))) {
          v.add("remove without a preceding add for " + key + " at " + e.seq());
        }
      }
    }

    // Exactly one add for every (client, device) pair that were both registered at the same time.
    for (Map.Entry<Integer, Lifetime> c : clientLives.entrySet()) {
      for (Map.Entry<Integer, Lifetime> d : deviceLives.entrySet()) {
        Lifetime cl = c.getValue();
        Lifetime dl = d.getValue();
        boolean overlap = Math.max(cl.registered, dl.registered) < Math.min(cl.unregisterRequested, dl.unregisterRequested);
        List<Event> es = byPair.getOrDefault(new PairKey(c.getKey(), d.getKey()), List.of());
        long adds = es.stream().filter(e -> e.kind() == Kind.ADD).count();
        if (overlap && adds != 1) {
          v.add(cl.name + " and " + dl.name + " were registered together but got " + adds + " adds");
        }
      }
    }

    // No callback of a client, nor for a device, after its unregistration stage completed.
    for (Event e : events) {
      if (!e.isCallback()) {
        continue;
      }
      Lifetime cl = clientLives.get(e.clientId());
      Lifetime dl = deviceLives.get(e.deviceIndex());
      if (cl != null && e.seq() > cl.unregistered) {
        v.add("callback " + e.seq() + " " + e.brief() + " after unregisterClient of " + cl.name + " completed at "
            + cl.unregistered);
      }
      if (dl != null && e.seq() > dl.unregistered) {
        v.add("callback " + e.seq() + " " + e.brief() + " after unregisterDevice of " + dl.name + " completed at "
            + dl.unregistered);
      }
      if (cl == null || dl == null) {
        v.add("callback for a client or device whose registration never completed: " + e.seq() + " " + e.brief());
      }
    }
    return v;
  }

  // ---- client and device registering at the same time ----

  @Test
  @DisplayName("a client and a device registering at the same time get exactly one add (racing threads, 50 rounds)")
  void racingClientAndDeviceGetExactlyOneAdd() throws Exception {
    for (int round = 0; round < 50; round++) {
      CyclicBarrier go = new CyclicBarrier(2);
      String clientName = "race" + round;
      Future<ClientId> client = pool.submit(() -> {
        go.await(10, TimeUnit.SECONDS);
        return midlayer.registerClient(new RegistryRecordingClient(clientName, log))
            .toCompletableFuture().get(10, TimeUnit.SECONDS);
      });
      Future<Device> device = pool.submit(() -> {
        go.await(10, TimeUnit.SECONDS);
        return midlayer.registerDevice("rd%d", new TestDriver().ops()).toCompletableFuture().get(10, TimeUnit.SECONDS);
      });
      ClientId id = client.get(20, TimeUnit.SECONDS);
      Device dev = device.get(20, TimeUnit.SECONDS);

      List<String> adds = log.filter(e -> e.kind() == Kind.ADD && e.clientId() == id.id()).stream()
          .map(Event::brief).toList();
      assertEquals(List.of("add " + clientName + " " + dev.name()), adds, "round " + round);

      await(midlayer.unregisterDevice(dev));
      await(midlayer.unregisterClient(id));
      List<String> removes = log.filter(e -> e.kind() == Kind.REMOVE && e.clientId() == id.id()).stream()
          .map(Event::brief).toList();
      assertEquals(List.of("remove " + clientName + " " + dev.name()), removes, "round " + round);
    }
    assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
  }

  @Test
  @DisplayName("a client and a device whose registrations are queued together get exactly one add, in either order")
  void queuedClientAndDeviceGetExactlyOneAdd() {
    for (boolean deviceFirst : new boolean[] {true, false}) {
      CountDownLatch inAdd = latch();
      CountDownLatch release = latch();
      // A client that blocks in add of "hold0", so the next two requests wait in the queue together.
      ClientId holder = await(midlayer.registerClient(new RegistryRecordingClient("holder", log).onAdd((d, self) -> {
        if (d.name().equals("hold0")) {
          inAdd.countDown();
          block(release);
        }
        return true;
      })));
      CompletableFuture<Device> hold = midlayer.registerDevice("hold0", new TestDriver().ops()).toCompletableFuture();
      await(inAdd, "holder's add");

      int mark = log.size();
      CompletableFuture<Device> dev;
      CompletableFuture<ClientId> client;
      if (deviceFirst) {
        dev = midlayer.registerDevice("new0", new TestDriver().ops()).toCompletableFuture();
        client = midlayer.registerClient(new RegistryRecordingClient("newc", log)).toCompletableFuture();
      } else {
        client = midlayer.registerClient(new RegistryRecordingClient("newc", log)).toCompletableFuture();
        dev = midlayer.registerDevice("new0", new TestDriver().ops()).toCompletableFuture();
      }
      assertNotDone(dev, "queued registerDevice");
      assertNotDone(client, "queued registerClient");
      release.countDown();
      Device holdDev = await(hold);
      Device newDev = await(dev);
      ClientId newClient = await(client);

      List<String> expected = deviceFirst
          ? List.of("add holder new0", "add newc hold0", "add newc new0")
          : List.of("add newc hold0", "add holder new0", "add newc new0");
      assertEquals(expected, log.callbacksSince(mark), deviceFirst ? "device queued first" : "client queued first");

      await(midlayer.unregisterClient(newClient));
      await(midlayer.unregisterClient(holder));
      await(midlayer.unregisterDevice(newDev));
      await(midlayer.unregisterDevice(holdDev));
      assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
    }
  }

  // ---- unregistration while a callback runs ----

  @Test
  @DisplayName("unregisterClient requested while the client's add runs waits for it, then removes the device; "
      + "no callback after it completes")
  void unregisterClientDuringItsAdd() {
    CountDownLatch inAdd = latch();
    CountDownLatch release = latch();
    ClientId slow = await(midlayer.registerClient(new RegistryRecordingClient("slow", log).onAdd((d, self) -> {
      inAdd.countDown();
      block(release);
      return true;
    })));
    await(midlayer.registerClient(new RegistryRecordingClient("next", log)));

    CompletableFuture<Device> registering = midlayer.registerDevice("lo0", new TestDriver().ops()).toCompletableFuture();
    await(inAdd, "slow's add");
    CompletableFuture<Done> unregistering = log.markOnCompletion(midlayer.unregisterClient(slow), "unregistered slow");
    assertNotDone(unregistering, "unregisterClient while its add runs");
    // Barrier: the registry answers a request for an unknown client at once, so once that answer is in,
    // it has handled the unregisterClient sent before it.
    RegistryAwait.assertFailsWith(NotRegisteredException.class, midlayer.unregisterClient(new ClientId(999, "barrier")));
    assertNotDone(unregistering, "unregisterClient while its add runs");
    assertEquals(List.of("next"), midlayer.clients().stream().map(ClientId::name).toList(),
        "an unregistering client is no longer listed");

    release.countDown();
    Device dev = await(registering);
    await(unregistering);
    assertEquals(List.of("add slow lo0", "add next lo0", "remove slow lo0"), log.callbacks());

    // Later operations never call it again.
    long done = log.markSeq("unregistered slow");
    await(midlayer.unregisterDevice(dev));
    registerAndUnregisterDevice("lo1");
    assertTrue(log.filter(e -> e.isCallback() && e.client().equals("slow") && e.seq() > done).isEmpty(), log.toString());
  }

  private void registerAndUnregisterDevice(String name) {
    Device d = await(midlayer.registerDevice(name, new TestDriver().ops()));
    await(midlayer.unregisterDevice(d));
  }

  @Test
  @DisplayName("unregisterDevice requested while the device's own adds run: every add gets its remove "
      + "(in reverse order) before the stage completes, and no callback for it after")
  void unregisterDeviceDuringItsRegistration() {
    CountDownLatch inAdd = latch();
    CountDownLatch release = latch();
    AtomicReference<Device> seen = new AtomicReference<>();
    await(midlayer.registerClient(new RegistryRecordingClient("first", log)));
    await(midlayer.registerClient(new RegistryRecordingClient("slow", log).onAdd((d, self) -> {
      seen.set(d);
      inAdd.countDown();
      block(release);
      return true;
    })));
    await(midlayer.registerClient(new RegistryRecordingClient("last", log)));

    CompletableFuture<Device> registering = midlayer.registerDevice("lo0", new TestDriver().ops()).toCompletableFuture();
    await(inAdd, "slow's add");
    CompletableFuture<Done> unregistering = log.markOnCompletion(midlayer.unregisterDevice(seen.get()), "unregistered lo0");
    assertNotDone(unregistering, "unregisterDevice while the device's adds run");
    release.countDown();
    Device dev = await(registering);
    await(unregistering);
    assertEquals(DeviceState.UNREGISTERED, dev.state());

    List<String> cbs = log.callbacks();
    List<String> adds = cbs.stream().filter(s -> s.startsWith("add ")).map(s -> s.substring(4)).toList();
    List<String> removes = cbs.stream().filter(s -> s.startsWith("remove ")).map(s -> s.substring(7)).toList();
    List<String> reversedAdds = new ArrayList<>(adds);
    java.util.Collections.reverse(reversedAdds);
    assertEquals(reversedAdds, removes, "every add has its remove, in reverse order: " + cbs);
    assertTrue(adds.containsAll(List.of("first lo0", "slow lo0")), cbs.toString());
    long done = log.markSeq("unregistered lo0");
    assertTrue(log.filter(e -> e.isCallback() && e.seq() > done).isEmpty(), log.toString());
    // Nothing left behind: a client registering now sees no device.
    int mark = log.size();
    await(midlayer.registerClient(new RegistryRecordingClient("after", log)));
    assertEquals(List.of(), log.callbacksSince(mark));
  }

  @Test
  @DisplayName("unregistering a client and a device at the same time removes the pair exactly once")
  void racingUnregistrationsRemoveOnce() throws Exception {
    for (int round = 0; round < 30; round++) {
      ClientId id = await(midlayer.registerClient(new RegistryRecordingClient("u" + round, log)));
      Device dev = await(midlayer.registerDevice("ud%d", new TestDriver().ops()));
      CyclicBarrier go = new CyclicBarrier(2);
      Future<Done> a = pool.submit(() -> {
        go.await(10, TimeUnit.SECONDS);
        return midlayer.unregisterClient(id).toCompletableFuture().get(10, TimeUnit.SECONDS);
      });
      Future<Done> b = pool.submit(() -> {
        go.await(10, TimeUnit.SECONDS);
        return midlayer.unregisterDevice(dev).toCompletableFuture().get(10, TimeUnit.SECONDS);
      });
      a.get(20, TimeUnit.SECONDS);
      b.get(20, TimeUnit.SECONDS);
      List<String> removes = log.filter(e -> e.kind() == Kind.REMOVE && e.clientId() == id.id()).stream()
          .map(Event::brief).toList();
      assertEquals(List.of("remove u" + round + " " + dev.name()), removes, "round " + round);
    }
    assertEquals(RegistrySnapshot.EMPTY, midlayer.snapshot());
  }

}
