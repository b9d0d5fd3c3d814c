package dev.midlayer.ulp.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The fetch template as its users run it: {@link FetchTargetClient} and {@link FetchInitiatorClient} registered as
 * clients of the midlayer, connected through the CM on loopback devices, with devices unplugged under traffic and a
 * fault on the wire. Each test ends with the monitor's verdict once every device is gone ({@link #verdict()}), and
 * {@code kit.shutdown()} fails on anything the clients left behind.
 */
class FetchClientTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final long SERVICE = 0x4645_5443_4800_0002L;
  private static final int STORE = 1 << 20;
  private static final int DEPTH = 8;
  private static final int PAGES = 4;

  private final byte[] store = new byte[STORE];
  private MidlayerTestKit kit;

  @AfterEach
  void shutdown() {
    if (kit != null) {
      kit.shutdown();
    }
  }

  private MidlayerTestKit loopbackKit() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    new Random(5).nextBytes(store);
    return kit;
  }

  private FetchTargetClient targetClient(java.util.function.Predicate<Device> devices) {
    return new FetchTargetClient(kit.midlayer(), "fetch-target", devices, SERVICE,
        ByteBuffer.allocateDirect(STORE).put(store).flip(), DEPTH);
  }

  /** Each initiator device's target: by the target device's port-1 GID; none for a device not in the map. */
  private static Function<Device, Optional<CmDestination>> towards(Map<Device, Device> targets) {
    return d -> Optional.ofNullable(targets.get(d)).map(t -> CmDestination.gid(t.cachedPort(1).gids().get(0)));
  }

  /**
   * Every device removed (each client's remove ran), then: nothing left behind, every work request completed
   * before its QP was destroyed (each remove drained), and no contract violation.
   */
  private void verdict() {
    for (LoopbackDevice d : kit.fabric().devices()) {
      kit.removeDevice(d);
    }
    kit.assertNoLeftovers();
    assertEquals(0, kit.monitor().ledger().discardedByDestroy(), () -> "WRs destroyed undrained: "
        + kit.monitor().ledger());
    kit.monitor().assertNone();
  }

  /**
   * Fetches of random ranges from a thread of its own, up to 2 x depth in flight (the rest wait in the initiator's
   * queue), every byte checked against the store; it stops at the first failure, and counts what completed.
   */
  private final class Load {
    final FetchInitiator initiator;
    final Semaphore window = new Semaphore(2 * DEPTH);
    final AtomicLong ok = new AtomicLong();
    final AtomicLong wrongBytes = new AtomicLong();
    final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    final Thread thread;
    volatile boolean stop;

    Load(FetchInitiator initiator, long seed) {
      this.initiator = initiator;
      Random rnd = new Random(seed);
      this.thread = new Thread(() -> {
        while (!stop && failures.isEmpty()) {
          int length = 1 + rnd.nextInt(initiator.maxLength());
          int offset = rnd.nextInt(STORE - length + 1);
          try {
            if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
              continue;
            }
          } catch (InterruptedException e) {
            return;
          }
          initiator.fetch(offset, length).whenComplete((data, error) -> {
            if (error != null) {
              failures.add(error instanceof CompletionException ? error.getCause() : error);
            } else if (Arrays.equals(data, 0, length, store, offset, offset + length)) {
              ok.incrementAndGet();
            } else {
              wrongBytes.incrementAndGet();
            }
            window.release();
          });
        }
      }, "fetch-load-" + seed);
      thread.start();
    }

    /** Waits until at least {@code n} more fetches succeeded. */
    void awaitMore(long n) {
      long target = ok.get() + n;
      Awaitility.await().atMost(WAIT).until(() -> ok.get() >= target || !failures.isEmpty());
      assertTrue(failures.isEmpty(), () -> "no failure: " + failures);
      assertEquals(0, wrongBytes.get(), "fetches with wrong bytes");
    }

    /** Stops the load and waits until every fetch it started has completed (none hangs). */
    void stopAndAwaitQuiet() throws InterruptedException {
      stop = true;
      thread.join(WAIT.toMillis());
      assertTrue(window.tryAcquire(2 * DEPTH, WAIT.toSeconds(), TimeUnit.SECONDS),
          "every fetch started has completed, successfully or not");
      window.release(2 * DEPTH);
    }
  }

  @Test
  @DisplayName("happy path: two initiator devices connect through the CM to one target device, fetch random "
      + "ranges with every byte checked and every key invalidated by the target; unregistering releases it all")
  void fetchesThroughTheRegisteredClients() throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    Device lo1 = k.addDevice("lo%d", 1).device();
    Device lo2 = k.addDevice("lo%d", 1).device();
    FetchTargetClient target = targetClient(d -> d == lo0);
    ClientId targetId = k.registerClient(target);
    Map<Device, FetchInitiator> connected = new java.util.concurrent.ConcurrentHashMap<>();
    FetchInitiatorClient initiators = new FetchInitiatorClient(k.midlayer(), "fetch-initiator",
        towards(Map.of(lo1, lo0, lo2, lo0)), SERVICE, DEPTH, PAGES, connected::put);
    ClientId initiatorId = k.registerClient(initiators);
    assertEquals(java.util.Set.of(lo1, lo2), java.util.Set.copyOf(initiators.devices()));
    assertEquals(connected.get(lo1), initiators.initiator(lo1).orElseThrow(), "the callback got the same one");
    assertTrue(initiators.initiator(lo0).isEmpty(), "the target's device has no initiator");
    assertEquals(2, target.connections(lo0), "one target per initiator, on the one device");

    Load one = new Load(initiators.initiator(lo1).orElseThrow(), 1);
    Load two = new Load(initiators.initiator(lo2).orElseThrow(), 2);
    one.awaitMore(300);
    two.awaitMore(300);
    one.stopAndAwaitQuiet();
    two.stopAndAwaitQuiet();
    assertTrue(one.failures.isEmpty() && two.failures.isEmpty(), () -> one.failures + " " + two.failures);
    assertEquals(0, one.wrongBytes.get() + two.wrongBytes.get());
    assertEquals(one.ok.get(), one.initiator.invalidatedByTarget(), "each answer invalidated its key remotely");

    k.unregisterClient(initiatorId); // disconnects: the target releases its side on DISCONNECTED
    Awaitility.await().atMost(WAIT).until(() -> target.connections(lo0) == 0);
    k.unregisterClient(targetId);
    verdict();
  }

  @Test
  @DisplayName("the target's device unplugged mid-traffic: its initiator's fetches in flight fail with "
      + "FetchException (none hangs), nothing is left behind, and the initiator client goes on working with the "
      + "other target device")
  void targetDeviceUnpluggedMidTraffic() throws Exception {
    MidlayerTestKit k = loopbackKit();
    LoopbackDevice lo0 = k.addDevice("lo%d", 1);
    Device lo1 = k.addDevice("lo%d", 1).device();
    Device lo2 = k.addDevice("lo%d", 1).device();
    Device lo3 = k.addDevice("lo%d", 1).device();
    FetchTargetClient target = targetClient(d -> d == lo0.device() || d == lo2);
    k.registerClient(target);
    FetchInitiatorClient initiators = new FetchInitiatorClient(k.midlayer(), "fetch-initiator",
        towards(Map.of(lo1, lo0.device(), lo3, lo2)), SERVICE, DEPTH, PAGES);
    k.registerClient(initiators);
    Load cut = new Load(initiators.initiator(lo1).orElseThrow(), 1);
    Load other = new Load(initiators.initiator(lo3).orElseThrow(), 3);
    cut.awaitMore(200);
    other.awaitMore(200);

    k.removeDevice(lo0); // returns after the target client's remove: disconnected, drained, destroyed
    kit.assertNoLeftovers();
    assertEquals(java.util.List.of(lo2), target.devices());
    cut.stopAndAwaitQuiet();
    assertTrue(!cut.failures.isEmpty(), "the fetches in flight failed");
    for (Throwable t : cut.failures) {
      assertInstanceOf(FetchException.class, t, () -> "a FetchException: " + t);
    }
    CompletionException later = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
        () -> cut.initiator.fetch(0, 10).toCompletableFuture().join());
    assertInstanceOf(FetchException.class, later.getCause(), "a later fetch fails at once too");

    other.awaitMore(300); // the initiator client survives: its other device keeps fetching
    other.stopAndAwaitQuiet();
    assertEquals(java.util.Set.of(lo1, lo3), java.util.Set.copyOf(initiators.devices()));
    assertEquals(1, target.connections(lo2));
    verdict();
  }

  @Test
  @DisplayName("the initiator's device unplugged mid-traffic: its fetches in flight fail with FetchException, its "
      + "remove leaves nothing behind, the target releases its side, and a device plugged in again fetches anew")
  void initiatorDeviceUnpluggedMidTraffic() throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    LoopbackDevice lo1 = k.addDevice("lo%d", 1);
    FetchTargetClient target = targetClient(d -> d == lo0);
    k.registerClient(target);
    FetchInitiatorClient initiators = new FetchInitiatorClient(k.midlayer(), "fetch-initiator",
        d -> d == lo0 ? Optional.empty() : Optional.of(CmDestination.gid(lo0.cachedPort(1).gids().get(0))),
        SERVICE, DEPTH, PAGES);
    k.registerClient(initiators);
    Load load = new Load(initiators.initiator(lo1.device()).orElseThrow(), 1);
    load.awaitMore(200);

    k.removeDevice(lo1);
    kit.assertNoLeftovers();
    load.stopAndAwaitQuiet();
    assertTrue(!load.failures.isEmpty(), "the fetches in flight failed");
    for (Throwable t : load.failures) {
      assertInstanceOf(FetchException.class, t, () -> "a FetchException: " + t);
    }
    assertTrue(initiators.devices().isEmpty());
    Awaitility.await().atMost(WAIT).until(() -> target.connections(lo0) == 0);

    LoopbackDevice lo2 = k.addDevice("lo%d", 1);
    Load again = new Load(initiators.initiator(lo2.device()).orElseThrow(), 2);
    again.awaitMore(200);
    again.stopAndAwaitQuiet();
    verdict();
  }

  @Test
  @DisplayName("a fault: every request packet from the initiator to the target dropped from some point on, the "
      + "request SEND exhausts its retries and every fetch fails with FetchException naming RETRY_EXC_ERR; the "
      + "clients still release everything")
  void droppedPacketsFailTheFetches() throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    Device lo1 = k.addDevice("lo%d", 1).device();
    k.registerClient(targetClient(d -> d == lo0));
    FetchInitiatorClient initiators = new FetchInitiatorClient(k.midlayer(), "fetch-initiator",
        towards(Map.of(lo1, lo0)), SERVICE, DEPTH, PAGES);
    k.registerClient(initiators);
    Load load = new Load(initiators.initiator(lo1).orElseThrow(), 1);
    load.awaitMore(100);

    Direction toTarget = new Direction(lo1.cachedPort(1).gids().get(0), lo0.cachedPort(1).gids().get(0));
    k.fabric().faults(FaultPlan.builder(11).dropAll(FaultPlan.Match.any().direction(toTarget).data()).build());
    Awaitility.await().atMost(WAIT).until(() -> !load.failures.isEmpty());
    load.stopAndAwaitQuiet();
    for (Throwable t : load.failures) {
      assertInstanceOf(FetchException.class, t, () -> "a FetchException: " + t);
      assertTrue(t.getMessage().contains("RETRY_EXC_ERR"), () -> "names the first error: " + t);
    }
    k.fabric().clearFaults();
    verdict();
  }
}
