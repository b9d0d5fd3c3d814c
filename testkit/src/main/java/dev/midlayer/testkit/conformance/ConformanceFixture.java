package dev.midlayer.testkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.registry.LeftoverReclaimed;
import dev.midlayer.testkit.Await;
import dev.midlayer.testkit.MidlayerTestKit;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The helpers of the conformance contracts: one midlayer ({@link MidlayerTestKit}, created with the driver's
 * {@link DriverUnderTest#config()}), the driver's devices, and per connection a {@link Side} (device, PD, CQ,
 * MR, QP); connecting RC/UC QPs; bounded waits and polls; byte patterns. No wait here sleeps for a set time:
 * a condition wait is a bounded poll loop with {@link Thread#onSpinWait()} / {@link Thread#yield()} back-off, a
 * stage wait a bounded {@code get}, each with an overall deadline ({@link Await#DEFAULT_TIMEOUT}) that fails
 * the test.
 *
 * <p>The contracts make their objects outside any client, as a kernel test module calling verbs on a device
 * would, and leave what a test did not destroy to the device's unregistration (C15: the midlayer reclaims
 * it). {@link #close()} therefore removes the devices first and accepts what the midlayer reclaimed from no
 * client, but still fails on anything a <em>client</em> left behind, and then shuts the kit down (which fails
 * on whatever else the kit checks).
 *
 * <p>Threading: the fixture is not thread-safe. Instance methods that make or remove objects may sleep: call
 * them from the test's thread only. The waiting helpers ({@link #await}, {@link #failureOf}, {@link #awaitTrue},
 * {@link #poll}, ...) block the caller until their stage completes or their condition holds: from the test
 * thread, never from a midlayer callback or an actor's turn. The byte, address and completion-list helpers
 * never block and may be called from any thread.
 */
public final class ConformanceFixture implements AutoCloseable {
  /** The overall deadline of any single wait, in ms: generous, only reached when something is broken. */
  public static final long DEADLINE_MS = Await.DEFAULT_TIMEOUT.toMillis();

  /**
   * Transport parameters for tests that expect success: timeout code 24 and 7 retries, so only a long time
   * without any ACK progress could cause a spurious RETRY_EXC_ERR; RNR retry forever with the shortest timer.
   */
  public static final QpConnect.Params RELIABLE = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);

  /**
   * {@link #RELIABLE} with the ACK timeout code chosen for the driver's {@link DriverUnderTest#timerScale()} so
   * that one timeout lasts about 68 ms, as code 24 does at the loopback's 0.001: for contracts of small messages
   * that drop packets on purpose, where each lost ACK costs one timeout and the test's deadline must hold
   * dozens of them. Not for large transfers: a timeout shorter than a message's time on the wire resends it.
   * Never sleeps.
   */
  public QpConnect.Params reliableForLosses() {
    int code = 24 + (int) Math.round(Math.log(0.001 / driver.timerScale()) / Math.log(2));
    return RELIABLE.withRetries(Math.max(1, Math.min(31, code)), 7, 7, 1);
  }

  private final DriverUnderTest driver;
  private final MidlayerTestKit kit;
  private final List<Device> devices = new ArrayList<>();
  private boolean closed;
  private boolean clientLeftoversAllowed;

  /** A new midlayer for {@code driver}: the driver's config, then {@code extra} on top. Test thread. */
  public ConformanceFixture(DriverUnderTest driver, com.typesafe.config.Config extra) {
    this.driver = driver;
    this.kit = MidlayerTestKit.create(extra.withFallback(driver.config()));
  }

  /** The driver under test. Never blocks; any thread. */
  public DriverUnderTest driver() {
    return driver;
  }

  /** The midlayer of this fixture. Never blocks; any thread. */
  public MidlayerTestKit kit() {
    return kit;
  }

  /**
   * Removes the devices this fixture added, fails on anything a client left behind, and shuts the kit down.
   * May sleep: test thread. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<LeftoverReclaimed> ofClients;
    try {
      for (int i = devices.size() - 1; i >= 0; i--) {
        if (driver.isRegistered(kit, devices.get(i))) {
          driver.removeDevice(kit, devices.get(i));
        }
      }
      for (var c : kit.midlayer().clients()) {
        kit.unregisterClient(c);
      }
      // Objects of no client are the contract tests' own, reclaimed on purpose by the removals above.
      ofClients = kit.leftovers().stream().filter(l -> l.client() != null).toList();
      kit.allowLeftovers();
    } finally {
      try {
        driver.close(kit);
      } finally {
        kit.shutdown();
      }
    }
    if (!ofClients.isEmpty() && !clientLeftoversAllowed) {
      throw new AssertionError("a client left objects behind when its remove returned: " + ofClients);
    }
  }

  // ---- devices ----

  /** Registers a new one-port device of the driver. May sleep: test thread. */
  public Device addDevice() {
    return addDevice(1);
  }

  /** Registers a new device of the driver with {@code ports} ports. May sleep: test thread. */
  public Device addDevice(int ports) {
    Device d = driver.addDevice(kit, ports);
    devices.add(d);
    return d;
  }

  /** Unregisters {@code d} (made by {@link #addDevice}). May sleep: test thread. */
  public void removeDevice(Device d) {
    driver.removeDevice(kit, d);
  }

  /**
   * The devices added so far and not removed, in order. May sleep as {@link DriverUnderTest#isRegistered} may;
   * test thread.
   */
  public List<Device> devices() {
    return devices.stream().filter(d -> driver.isRegistered(kit, d)).toList();
  }

  /** Takes a port's link down ({@link DriverUnderTest#linkDown}). May sleep: test thread. */
  public void linkDown(Device d, int port) {
    driver.linkDown(kit, d, port);
  }

  /** Brings a port's link up again ({@link DriverUnderTest#linkUp}). May sleep: test thread. */
  public void linkUp(Device d, int port) {
    driver.linkUp(kit, d, port);
  }

  /** Applies {@code plan} at every link ({@link DriverUnderTest#faults}). Never blocks; test thread. */
  public void faults(dev.midlayer.drivers.fault.FaultPlan plan) {
    driver.faults(kit, plan);
  }

  /** Removes the fault plan ({@link DriverUnderTest#clearFaults}). Never blocks; test thread. */
  public void clearFaults() {
    driver.clearFaults(kit);
  }

  /** Raises a fatal error of {@code d} ({@link DriverUnderTest#raiseFatal}). Never blocks; test thread. */
  public void raiseFatal(Device d) {
    driver.raiseFatal(kit, d);
  }

  /**
   * Flaps a port's link ({@link DriverUnderTest#flap}); the stage completes once it is up. May sleep as the
   * driver's flap may; test thread.
   */
  public CompletionStage<?> flap(Device d, int port, java.time.Duration downFor) {
    return driver.flap(kit, d, port, downFor);
  }

  /**
   * For a test whose clients leave objects behind on purpose (the ownership contract): {@link #close()} does not
   * fail on them. Assert them yourself ({@code kit().leftovers()}). Never blocks; test thread.
   */
  public ConformanceFixture allowClientLeftovers() {
    clientLeftoversAllowed = true;
    return this;
  }

  /**
   * The direction from port 1 of {@code from}'s device to port 1 of {@code to}'s, for fault plans. Never blocks
   * (the port cache); any thread.
   */
  public static dev.midlayer.drivers.fault.Direction direction(Side from, Side to) {
    return new dev.midlayer.drivers.fault.Direction(from.gid(1), to.gid(1));
  }

  /**
   * One side of a connection: a device, a PD, one CQ for both queues (no handler), one MR, and its QP. Its
   * methods read the port cache: they never block and may be called from any thread.
   */
  public static final class Side {
    public final Device dev;
    public final ProtectionDomain pd;
    public final CompletionQueue cq;
    public final MemoryRegion mr;
    /** Affiliated events of the QPs made with {@link #createQp}, in arrival order. */
    public final ConcurrentLinkedQueue<AsyncEvent> events = new ConcurrentLinkedQueue<>();
    /** The QP made with {@link #createQp}, or null. */
    public QueuePair qp;

    /** A side of these objects, without a QP yet ({@link ConformanceFixture#createQp} makes it). */
    public Side(Device dev, ProtectionDomain pd, CompletionQueue cq, MemoryRegion mr) {
      this.dev = dev;
      this.pd = pd;
      this.cq = cq;
      this.mr = mr;
    }

    /** The LID of port {@code port} of this side's device (from the port cache). */
    public int lid(int port) {
      return dev.cachedPort(port).lid();
    }

    /** The GID at index 0 of port {@code port} of this side's device (from the port cache). */
    public Gid gid(int port) {
      return dev.cachedPort(port).gids().get(0);
    }

    /** An address of port 1: by LID on an InfiniBand port, by GID (with a GRH) on an Ethernet (RoCE-like) one. */
    public AhAttr lidPath() {
      return path(1);
    }

    /** An address of port {@code port}, as {@link ConformanceFixture#path(Device, int)}. */
    public AhAttr path(int port) {
      return ConformanceFixture.path(dev, port);
    }
  }

  /**
   * An address of port {@code port} of {@code d}: by LID on an InfiniBand port, by its GID at index 0 on an
   * Ethernet (RoCE-like) port, whose address handles need a GRH. Never blocks (the port cache); any thread.
   */
  public static AhAttr path(Device d, int port) {
    return dev.midlayer.testkit.ConnectedPair.pathTo(d, port);
  }

  /**
   * A side on a new device with a CQ of {@code cqDepth} (handler {@code handler}, may be null) and an MR.
   * May sleep: test thread.
   */
  public Side side(int cqDepth, int mrBytes, CompletionHandler handler) throws Exception {
    return side(addDevice(), cqDepth, mrBytes, handler);
  }

  /**
   * A side on {@code dev} with a new PD, a CQ of {@code cqDepth} and an MR of {@code mrBytes} (LOCAL_WRITE).
   * Blocks until the three verbs completed; test thread.
   */
  public Side side(Device dev, int cqDepth, int mrBytes, CompletionHandler handler) throws Exception {
    ProtectionDomain pd = await(dev.allocPd());
    CompletionQueue cq = await(dev.createCq(cqDepth, handler, null, null));
    MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(mrBytes), AccessFlags.LOCAL_WRITE));
    return new Side(dev, pd, cq, mr);
  }

  /** Creates {@code s}'s QP (its CQ for both queues, its events recorded in {@link Side#events}). May sleep. */
  public static QueuePair createQp(Side s, QpType type, QpCap cap, boolean signalAll) throws Exception {
    QueuePair qp = await(s.pd.createQp(new QpInitAttr(type, s.cq, s.cq, cap, signalAll, s.events::add, null)));
    s.qp = qp;
    return qp;
  }

  /**
   * A barrier on the QP's driver, for an RTS QP created with {@link #createQp}: RTS to SQD with
   * EN_SQD_ASYNC_NOTIFY, wait for SQ_DRAINED (the driver raises it once the modify is applied, so every
   * earlier state change has been applied by then), and back to RTS. May sleep.
   */
  public static void quiesce(Side s) throws Exception {
    QueuePair qp = s.qp;
    long before = drainedEvents(s);
    await(qp.modify(QpAttr.builder().qpState(QpState.SQD).enSqdAsyncNotify(true).build(),
        QpAttrMask.STATE | QpAttrMask.EN_SQD_ASYNC_NOTIFY));
    awaitTrue(() -> "SQ_DRAINED of " + qp + " (events: " + s.events + ")", () -> drainedEvents(s) > before);
    await(qp.modify(QpAttr.builder().qpState(QpState.RTS).build(), QpAttrMask.STATE));
  }

  private static long drainedEvents(Side s) {
    return s.events.stream().filter(e -> e.type() == AsyncEventType.SQ_DRAINED).count();
  }

  /** Connects {@code a.qp} and {@code b.qp} (RC or UC) to each other, both to RTS. May sleep. */
  public static void connect(Side a, Side b, QpConnect.Params pa, QpConnect.Params pb) throws Exception {
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, pa));
    await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, pb));
  }

  /** Same with {@link #RELIABLE} both ways. May sleep. */
  public static void connect(Side a, Side b) throws Exception {
    connect(a, b, RELIABLE, RELIABLE);
  }

  // ---- fences: deterministic replacements of "wait and see that nothing happens" ----

  /**
   * A fence for "a QP retrying RNR forever has not failed": a control RC pair from {@code from} to {@code to}
   * (rnr_retry 6, the shortest RNR timer, no receive at its responder) posts one send and waits for its
   * RNR_RETRY_EXC_ERR. When this returns, seven RNR NAK rounds of the shortest timer went by after the call,
   * so a QP with rnr_retry 7 that met RNR before the call has been NAKed as often. May sleep: test thread.
   */
  public void rnrFence(Device from, Device to) throws Exception {
    Side[] ab = controlPair(from, to, QpConnect.Params.defaults().withRetries(24, 7, 6, 1));
    Side a = ab[0];
    a.qp.postSend(dev.midlayer.verbs.SendWr.send(1, 0));
    WorkCompletion wc = pollOne(a.cq);
    assertEquals(dev.midlayer.ib.WcStatus.RNR_RETRY_EXC_ERR, wc.status(), () -> "the RNR fence's send: " + wc);
  }

  /**
   * A fence for "a QP whose peer cannot be reached has not completed anything": a control RC pair from
   * {@code from} to {@code to} (ACK timeout code 1, retry_cnt 7; a receive posted at its responder) posts one
   * send and waits for its RETRY_EXC_ERR, which it gets only when the path is down. When this returns, eight
   * ACK timeouts of code 1 went by after the call. May sleep: test thread.
   */
  public void timeoutFence(Device from, Device to) throws Exception {
    Side[] ab = controlPair(from, to, QpConnect.Params.defaults().withRetries(1, 7, 7, 1));
    Side a = ab[0];
    Side b = ab[1];
    b.qp.postRecv(dev.midlayer.verbs.RecvWr.of(1, dev.midlayer.verbs.Sge.of(b.mr, 0, 64)));
    a.qp.postSend(dev.midlayer.verbs.SendWr.send(1, 0));
    WorkCompletion wc = pollOne(a.cq);
    assertEquals(dev.midlayer.ib.WcStatus.RETRY_EXC_ERR, wc.status(), () -> "the timeout fence's send: " + wc);
  }

  /** A connected RC pair of one-WR QPs from {@code from} to {@code to}, for the fences. May sleep. */
  private Side[] controlPair(Device from, Device to, QpConnect.Params p) throws Exception {
    Side a = side(from, 4, 64, null);
    Side b = side(to, 4, 64, null);
    createQp(a, QpType.RC, new QpCap(1, 1, 1, 1, 0), true);
    createQp(b, QpType.RC, new QpCap(1, 1, 1, 1, 0), true);
    connect(a, b, p, p);
    return new Side[] {a, b};
  }

  // ---- waiting ----

  /**
   * The value of {@code s}; its failure is thrown as the {@link ExecutionException}, a timeout fails the test.
   * Blocks the caller until the stage completes (at most {@link #DEADLINE_MS}): test thread, never a midlayer
   * callback or an actor's turn.
   */
  public static <T> T await(CompletionStage<T> s) throws Exception {
    try {
      return s.toCompletableFuture().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("stage did not complete within " + DEADLINE_MS + " ms", e);
    }
  }

  /**
   * The cause a stage failed with; fails the test if it completes normally or does not complete in time.
   * Blocks the caller until the stage completes (at most {@link #DEADLINE_MS}); test thread.
   */
  public static Throwable failureOf(CompletionStage<?> s) throws Exception {
    try {
      Object v = s.toCompletableFuture().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
      return fail("expected the stage to fail, but it completed with " + v);
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  /** Back-off for bounded poll loops: spin first, then yield. Never sleeps; any thread. */
  public static void backOff(int spins) {
    if (spins < 100) {
      Thread.onSpinWait();
    } else {
      Thread.yield();
    }
  }

  /**
   * Waits until {@code condition} holds; fails with {@code what} after the deadline. Spins and yields (never
   * sleeps), so it blocks the caller until then: test thread, not a midlayer callback.
   */
  public static void awaitTrue(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    int spins = 0;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + DEADLINE_MS + " ms waiting for: " + what);
      }
      backOff(spins++);
    }
  }

  /**
   * As {@link #awaitTrue(String, BooleanSupplier)}, with the description made only on a failure. Blocks the
   * caller (spinning) until {@code condition} holds; test thread, not a midlayer callback.
   */
  public static void awaitTrue(Supplier<String> what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    int spins = 0;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + DEADLINE_MS + " ms waiting for: " + what.get());
      }
      backOff(spins++);
    }
  }

  /**
   * Waits for the QP to reach {@code state} (a driver moves it there in its own turn). Blocks the caller
   * (spinning) until then; test thread.
   */
  public static void awaitState(QueuePair qp, QpState state) {
    awaitTrue(() -> qp + " to reach " + state + " (it is " + qp.state() + ")", () -> qp.state() == state);
  }

  /**
   * Posts {@code wr} on {@code qp}, retrying while the send queue is full (QUEUE_FULL is an immediate error,
   * never a wait: slots come back when the driver retires earlier WRs); fails after the deadline. Never
   * sleeps (spins and yields); any thread but a midlayer callback.
   */
  public static void postSendWhenRoom(QueuePair qp, dev.midlayer.verbs.SendWr wr) {
    awaitTrue(() -> "room in the send queue of " + qp, () -> {
      try {
        qp.postSend(wr);
        return true;
      } catch (dev.midlayer.verbs.PostException e) {
        if (e.reason() != dev.midlayer.verbs.PostException.Reason.QUEUE_FULL) {
          throw e;
        }
        return false;
      }
    });
  }

  /**
   * Polls exactly {@code n} completions (waiting for them); fails listing what came if fewer arrive in time.
   * Spins and yields (never sleeps) until they came; test thread, not a midlayer callback.
   */
  public static List<WorkCompletion> poll(CompletionQueue cq, int n) {
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

  /** Polls exactly one completion, as {@link #poll}: spins until it comes (never sleeps); test thread. */
  public static WorkCompletion pollOne(CompletionQueue cq) {
    return poll(cq, 1).get(0);
  }

  /** Fails if {@code cq} has a completion now (polls once). Never blocks; any thread. */
  public static void assertCqEmpty(CompletionQueue cq) {
    WorkCompletion wc = cq.poll();
    if (wc != null) {
      fail("expected no more completions on " + cq + ", got " + wc);
    }
  }

  /** The work request ids of {@code wcs}, in order. Never blocks; any thread. */
  public static List<Long> wrIds(List<WorkCompletion> wcs) {
    List<Long> ids = new ArrayList<>(wcs.size());
    for (WorkCompletion wc : wcs) {
      ids.add(wc.wrId());
    }
    return ids;
  }

  // ---- bytes ----

  /** Writes a recognisable pattern (seeded) into {@code len} bytes of {@code mr} at {@code off}. Never blocks. */
  public static void fill(MemoryRegion mr, int off, int len, int seed) {
    ByteBuffer b = mr.buffer();
    for (int i = 0; i < len; i++) {
      b.put(off + i, pattern(seed, i));
    }
  }

  /** Byte {@code i} of the pattern seeded {@code seed}, as {@link #fill} writes it. Never blocks; any thread. */
  public static byte pattern(int seed, int i) {
    return (byte) (seed * 31 + i * 7 + (i >>> 8));
  }

  /** Sets {@code len} bytes of {@code mr} at {@code off} to {@code value}. Never blocks; any thread. */
  public static void fillConst(MemoryRegion mr, int off, int len, byte value) {
    ByteBuffer b = mr.buffer();
    for (int i = 0; i < len; i++) {
      b.put(off + i, value);
    }
  }

  /** A copy of {@code len} bytes of {@code mr} at {@code off}. Never blocks; any thread. */
  public static byte[] read(MemoryRegion mr, int off, int len) {
    byte[] out = new byte[len];
    mr.buffer().get(off, out, 0, len);
    return out;
  }

  /** Fails, naming the first differing byte, unless {@code mr} holds {@code expected} at {@code off}. Never blocks. */
  public static void assertBytes(byte[] expected, MemoryRegion mr, int off, String what) {
    byte[] actual = read(mr, off, expected.length);
    for (int i = 0; i < expected.length; i++) {
      if (expected[i] != actual[i]) {
        fail(what + ": byte " + i + " (at offset " + (off + i) + ") is " + actual[i] + ", expected " + expected[i]);
      }
    }
  }

  /** Fails unless {@code wc} is a SUCCESS completion. Never blocks; any thread. */
  public static void assertOk(WorkCompletion wc) {
    assertNotNull(wc);
    assertEquals(dev.midlayer.ib.WcStatus.SUCCESS, wc.status(), () -> "completion " + wc);
  }
}
