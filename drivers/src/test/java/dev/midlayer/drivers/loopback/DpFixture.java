package dev.midlayer.drivers.loopback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.verbs.KeyTable;
import dev.midlayer.internal.verbs.QpImpl;
import dev.midlayer.internal.verbs.WorkQueueImpl;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * Shared helpers of the loopback-specific tests that stay in this module (the driver-independent data-path
 * tests are the conformance contracts of {@code dev.midlayer.testkit.conformance}, run on loopback by the
 * testkit): a fresh actor system with the loopback
 * fabric's timers scaled down (ACK timeouts and RNR delays in micro- to milliseconds), devices, PDs, CQs,
 * MRs and connected QPs, and bounded waits. Nothing here sleeps: every wait is a bounded poll loop with
 * {@link Thread#onSpinWait()} / {@link Thread#yield()} back-off and an overall deadline that fails the test.
 */
final class DpFixture implements AutoCloseable {
  /** The overall deadline of any single wait: generous, only reached when something is broken. */
  static final long DEADLINE_MS = 10_000;

  /**
   * Transport parameters for tests that expect success: timeout code 24 (4.096 µs × 2^24 × 0.001, i.e.
   * about 69 ms) and 7 retries, so only more than half a second without any ACK progress (never happens
   * on the loopback fabric) could cause a spurious RETRY_EXC_ERR; RNR retry forever with the shortest timer.
   */
  static final QpConnect.Params RELIABLE = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);

  final ActorTestKit testKit;
  final LoopbackFabric fabric;

  private DpFixture(String name, String extraConfig) {
    testKit = ActorTestKit.create(name, ConfigFactory.parseString(extraConfig)
        .withFallback(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"))
        .withFallback(ConfigFactory.load()));
    fabric = LoopbackFabric.create(testKit.system());
  }

  /** A fresh actor system with {@code midlayer.loopback.timer-scale = 0.001}. */
  static DpFixture start(String name) {
    return new DpFixture(name, "");
  }

  /** Same, with more configuration on top (e.g. dispatcher sizes). */
  static DpFixture start(String name, String extraConfig) {
    return new DpFixture(name, extraConfig);
  }

  @Override
  public void close() {
    testKit.shutdownTestKit();
    MonitorVerdict.assertNone(testKit.system());
  }

  // ---- objects ----

  LoopbackDevice addDevice() throws Exception {
    return await(fabric.addDevice("lo%d", 1));
  }

  /** One side of a connection: a device, a PD, one CQ for both queues (no handler), one MR. */
  static final class Side {
    final LoopbackDevice dev;
    final ProtectionDomain pd;
    final CompletionQueue cq;
    final MemoryRegion mr;
    /** Affiliated events of the QPs made with {@link #createQp}, in arrival order. */
    final ConcurrentLinkedQueue<AsyncEvent> events = new ConcurrentLinkedQueue<>();
    QueuePair qp;

    Side(LoopbackDevice dev, ProtectionDomain pd, CompletionQueue cq, MemoryRegion mr) {
      this.dev = dev;
      this.pd = pd;
      this.cq = cq;
      this.mr = mr;
    }

    AhAttr lidPath() {
      return AhAttr.ofLid(1, dev.lid(1));
    }
  }

  /** A side on a new device with a CQ of {@code cqDepth} (handler {@code handler}, may be null) and an MR. */
  Side side(int cqDepth, int mrBytes, CompletionHandler handler) throws Exception {
    return side(addDevice(), cqDepth, mrBytes, handler);
  }

  Side side(LoopbackDevice dev, int cqDepth, int mrBytes, CompletionHandler handler) throws Exception {
    ProtectionDomain pd = await(dev.device().allocPd());
    CompletionQueue cq = await(dev.device().createCq(cqDepth, handler, null, null));
    MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(mrBytes), AccessFlags.LOCAL_WRITE));
    return new Side(dev, pd, cq, mr);
  }

  static QueuePair createQp(Side s, QpType type, QpCap cap, boolean signalAll) throws Exception {
    QueuePair qp = await(s.pd.createQp(new QpInitAttr(type, s.cq, s.cq, cap, signalAll, s.events::add, null)));
    s.qp = qp;
    return qp;
  }



  /** Connects {@code a.qp} and {@code b.qp} (RC or UC) to each other, both to RTS. */
  static void connect(Side a, Side b, QpConnect.Params pa, QpConnect.Params pb) throws Exception {
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, pa));
    await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, pb));
  }

  static void connect(Side a, Side b) throws Exception {
    connect(a, b, RELIABLE, RELIABLE);
  }

  // ---- behind the consumer API (what these tests inspect) ----

  /** The send queue of a QP, for its occupancy. */
  static WorkQueueImpl<?> sendQueue(QueuePair qp) {
    return ((QpImpl) qp).sendQueue();
  }


  /** The memory keys of a loopback device. */
  static KeyTable keys(LoopbackDevice dev) {
    return DeviceImpl.of(dev.device()).verbs().keys();
  }

  // ---- waiting ----

  static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
  }


  /** Back-off for bounded poll loops: spin first, then yield. */
  static void backOff(int spins) {
    if (spins < 100) {
      Thread.onSpinWait();
    } else {
      Thread.yield();
    }
  }

  /** Waits until {@code condition} holds; fails with {@code what} after the deadline. */
  static void awaitTrue(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    int spins = 0;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + DEADLINE_MS + " ms waiting for: " + what);
      }
      backOff(spins++);
    }
  }

  static void awaitTrue(Supplier<String> what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    int spins = 0;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + DEADLINE_MS + " ms waiting for: " + what.get());
      }
      backOff(spins++);
    }
  }


  /** Polls exactly {@code n} completions (waiting for them); fails listing what came if fewer arrive in time. */
  static List<WorkCompletion> poll(CompletionQueue cq, int n) {
    List<WorkCompletion> got = new ArrayList<>(n);
    WorkCompletion[] batch = new WorkCompletion[16];
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    int spins = 0;
    while (got.size() < n) {
      int k = cq.poll(batch, Math.min(batch.length, n - got.size()));
      for (int i = 0; i < k; i++) {
        got.add(batch[i]);
      }
      if (k > 0) {
        spins = 0;
        continue;
      }
      if (System.nanoTime() > deadline) {
        fail("expected " + n + " completions on " + cq + " within " + DEADLINE_MS + " ms, got " + got.size()
            + ": " + got);
      }
      backOff(spins++);
    }
    return got;
  }

  static WorkCompletion pollOne(CompletionQueue cq) {
    return poll(cq, 1).get(0);
  }


  static void assertCqEmpty(CompletionQueue cq) {
    WorkCompletion wc = cq.poll();
    if (wc != null) {
      fail("expected no more completions on " + cq + ", got " + wc);
    }
  }







  static void assertOk(WorkCompletion wc) {
    assertNotNull(wc);
    assertEquals(dev.midlayer.ib.WcStatus.SUCCESS, wc.status(), () -> "completion " + wc);
  }
}
