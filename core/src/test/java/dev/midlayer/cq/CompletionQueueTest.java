package dev.midlayer.cq;

import static dev.midlayer.testsupport.CqFixtures.TIMEOUT;
import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.RegistryAwait.assertFailsWith;
import static dev.midlayer.testsupport.RegistryAwait.assertVerbFails;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.context.IllegalContextException;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.monitor.Check;
import dev.midlayer.registry.NotRegisteredException;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.testsupport.CqFixtures.Backoff;
import dev.midlayer.testsupport.CqFixtures.Deadline;
import dev.midlayer.testsupport.CqFixtures.Workers;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Fences;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.ResourceBusyException;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The completion queue as a data structure and as a device resource (reference 3.1, 3.3, 5.4, 6.3, 9.2):
 * exactly-once delivery to concurrent pollers, per-work-queue order, sizing, peek/poll, overflow to
 * CQ_ERR, destroy and usecounts, the context rule for createCq, and reclaim at unregisterDevice. The test
 * plays the driver: it adds completions with {@link CompletionQueue#push} from plain threads.
 */
class CompletionQueueTest {
  private static final int PUSHERS = 4;
  private static final int POLLERS = 4;
  private static final int PER_PUSHER = 50_000;

  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("CompletionQueueTest");
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  private Device register(VerbsTestDriver driver) {
    Device d = await(midlayer.registerDevice("cq%d", driver.ops()));
    assertSame(d, driver.device());
    return d;
  }

  private Device register() {
    return register(new VerbsTestDriver());
  }

  private static long wrId(int pusher, int seq) {
    return (long) pusher * PER_PUSHER + seq;
  }

  // ---- exactly once, order ----

  @Test
  @DisplayName("exactly once (9.2): 4 threads push 4 x 50,000 and 4 threads poll one CQ concurrently; "
      + "every wrId is polled exactly once, none lost, none duplicated")
  void concurrentPushersAndPollersGetEveryCompletionExactlyOnce() throws Exception {
    Device d = register();
    // A small ring that wraps ~200 times; the pushers never put more in it than it holds (flow control
    // by a semaphore the pollers refill), so no push may fail.
    CompletionQueue cq = await(d.createCq(1000, null, null, null));
    assertEquals(1024, cq.capacity());
    int total = PUSHERS * PER_PUSHER;
    Semaphore room = new Semaphore(cq.capacity());
    AtomicIntegerArray seen = new AtomicIntegerArray(total);
    AtomicInteger polled = new AtomicInteger();
    AtomicInteger rejected = new AtomicInteger();
    AtomicInteger foreign = new AtomicInteger();
    Deadline deadline = Deadline.in(TIMEOUT);

    Workers pushers = Workers.start("pusher", PUSHERS, p -> {
      for (int s = 0; s < PER_PUSHER; s++) {
        if (!room.tryAcquire(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new AssertionError("no room in the CQ for " + TIMEOUT + ": completions are stuck in it");
        }
        if (!Internal.push(cq, success(wrId(p, s)), (s & 7) == 0)) {
          rejected.incrementAndGet();
          room.release();
        }
      }
    });
    Workers pollers = Workers.start("poller", POLLERS, i -> {
      WorkCompletion[] batch = new WorkCompletion[16];
      Backoff backoff = new Backoff();
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      while (polled.get() < total && !deadline.passed()) {
        int n;
        if (i == 0) { // one poller takes them one at a time, the others in batches of 1..16
          WorkCompletion wc = cq.poll();
          n = wc == null ? 0 : 1;
          batch[0] = wc;
        } else {
          n = cq.poll(batch, 1 + rnd.nextInt(batch.length));
        }
        if (n == 0) {
          backoff.pause();
          continue;
        }
        backoff.reset();
        for (int k = 0; k < n; k++) {
          long id = batch[k].wrId();
          batch[k] = null;
          if (id < 0 || id >= total) {
            foreign.incrementAndGet();
          } else {
            seen.incrementAndGet((int) id);
          }
        }
        polled.addAndGet(n);
        room.release(n);
      }
    });
    Workers.go(pushers, pollers);
    pushers.join(TIMEOUT);
    pollers.join(TIMEOUT);

    assertEquals(0, rejected.get(), "pushes refused although the CQ had room");
    assertEquals(0, foreign.get(), "completions that were never pushed came out");
    List<String> wrong = new ArrayList<>();
    for (int id = 0; id < total && wrong.size() < 10; id++) {
      if (seen.get(id) != 1) {
        wrong.add("wrId " + id + " polled " + seen.get(id) + " times");
      }
    }
    assertTrue(wrong.isEmpty(), "not exactly once: " + wrong);
    assertEquals(total, polled.get(), "completions polled in all");
    assertEquals(0, cq.peek(), "nothing left behind");
    assertNull(cq.poll());
    assertFalse(cq.overflowed());
  }

  @Test
  @DisplayName("order (5.4): with one poller, each pusher's completions come out in the order it pushed them "
      + "(4 pushers x 50,000 into one CQ)")
  void singlePollerSeesEachPushersCompletionsInPushOrder() throws Exception {
    Device d = register();
    CompletionQueue cq = await(d.createCq(256, null, null, null));
    int total = PUSHERS * PER_PUSHER;
    Semaphore room = new Semaphore(cq.capacity());
    int[] next = new int[PUSHERS];
    List<String> outOfOrder = new ArrayList<>();
    Deadline deadline = Deadline.in(TIMEOUT);
    AtomicInteger rejected = new AtomicInteger();

    Workers pushers = Workers.start("pusher", PUSHERS, p -> {
      for (int s = 0; s < PER_PUSHER; s++) {
        if (!room.tryAcquire(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new AssertionError("no room in the CQ for " + TIMEOUT);
        }
        if (!Internal.push(cq, success(wrId(p, s)), false)) {
          rejected.incrementAndGet();
        }
      }
    });
    Workers poller = Workers.start("poller", 1, i -> {
      WorkCompletion[] batch = new WorkCompletion[16];
      Backoff backoff = new Backoff();
      int polled = 0;
      while (polled < total && !deadline.passed()) {
        int n = cq.poll(batch);
        if (n == 0) {
          backoff.pause();
          continue;
        }
        backoff.reset();
        for (int k = 0; k < n; k++) {
          long id = batch[k].wrId();
          int p = (int) (id / PER_PUSHER);
          int s = (int) (id % PER_PUSHER);
          if (s != next[p] && outOfOrder.size() < 10) {
            outOfOrder.add("pusher " + p + ": expected seq " + next[p] + ", got " + s);
          }
          next[p] = s + 1;
        }
        polled += n;
        room.release(n);
      }
    });
    Workers.go(pushers, poller);
    pushers.join(TIMEOUT);
    poller.join(TIMEOUT);
    assertEquals(0, rejected.get(), "pushes refused although the CQ had room");
    assertTrue(outOfOrder.isEmpty(), "per-pusher order broken: " + outOfOrder);
    for (int p = 0; p < PUSHERS; p++) {
      assertEquals(PER_PUSHER, next[p], "completions of pusher " + p + " polled");
    }
    assertNull(cq.poll());
  }

  // ---- sizing ----

  @Test
  @DisplayName("cqe (3.3): the capacity is the requested depth rounded up to a power of two, up to maxCqe")
  void capacityRoundsUpToAPowerOfTwo() {
    VerbsTestDriver driver = new VerbsTestDriver().maxCqe(4096);
    Device d = register(driver);
    int[] requested = {1, 2, 3, 5, 8, 9, 100, 1000, 1024, 1025, 4095, 4096};
    for (int cqe : requested) {
      CompletionQueue cq = await(d.createCq(cqe, null, null, null));
      int cap = cq.capacity();
      assertEquals(1, Integer.bitCount(cap), "capacity " + cap + " for cqe " + cqe + " is a power of two");
      assertTrue(cap >= cqe, "capacity " + cap + " holds cqe " + cqe);
      assertTrue(cap < 2 * cqe || cap == 2, "capacity " + cap + " is the smallest power of two >= " + cqe);
      assertTrue(Internal.impl(cq).describe().contains(cap + " entries"), Internal.impl(cq).describe());
      await(cq.destroy());
    }
    CompletionQueue alloc = await(d.allocCq(600, PollContext.DIRECT));
    assertEquals(1024, alloc.capacity());
    assertEquals(PollContext.DIRECT, alloc.pollContext());
    // The whole capacity is usable, not just cqe.
    CompletionQueue cq = await(d.createCq(5, null, null, null));
    for (int i = 0; i < 8; i++) {
      assertTrue(Internal.push(cq, success(i), false), "push " + i + " of 8");
    }
    assertEquals(8, cq.peek());
  }

  @Test
  @DisplayName("cqe (3.3): 0, negative or more than the device's maxCqe -> InvalidArgumentException(field cqe), "
      + "for createCq and allocCq")
  void cqeOutOfRangeIsRejected() {
    Device d = register(new VerbsTestDriver().maxCqe(4096));
    for (int cqe : new int[] {0, -1, 4097, 1 << 20, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
      InvalidArgumentException e1 = assertVerbFails(InvalidArgumentException.class,
          () -> d.createCq(cqe, null, null, null));
      assertEquals("cqe", e1.field(), "createCq(" + cqe + ")");
      assertTrue(e1.getMessage().contains("4096"), "names maxCqe: " + e1.getMessage());
      InvalidArgumentException e2 = assertVerbFails(InvalidArgumentException.class,
          () -> d.allocCq(cqe, PollContext.ACTOR));
      assertEquals("cqe", e2.field(), "allocCq(" + cqe + ")");
    }
    InvalidArgumentException e = assertVerbFails(InvalidArgumentException.class, () -> d.allocCq(8, null));
    assertEquals("pollContext", e.field());
    assertEquals(4096, await(d.createCq(4096, null, null, null)).capacity(), "maxCqe itself is allowed");
  }

  // ---- peek, poll ----

  @Test
  @DisplayName("peek (6.3): counts waiting completions without taking them")
  void peekCountsWithoutConsuming() {
    Device d = register();
    CompletionQueue cq = await(d.createCq(16, null, null, "ctx"));
    assertEquals("ctx", cq.context());
    assertNull(cq.pollContext(), "a CQ with a completion handler has no poll context");
    assertEquals(0, cq.peek());
    for (int i = 0; i < 5; i++) {
      assertTrue(Internal.push(cq, success(i), false));
    }
    assertEquals(5, cq.peek());
    assertEquals(5, cq.peek(), "peek does not consume");
    assertEquals(0, cq.poll().wrId());
    assertEquals(1, cq.poll().wrId());
    assertEquals(3, cq.peek());
    WorkCompletion[] out = new WorkCompletion[8];
    assertEquals(3, cq.poll(out));
    assertEquals(0, cq.peek());
  }

  @Test
  @DisplayName("poll (9.1): poll(out, max) takes at most min(max, out.length) into out from index 0, "
      + "leaves the rest of out alone, and returns the count; poll() returns null when empty")
  void pollIntoArraysHonoursMax() {
    Device d = register();
    CompletionQueue cq = await(d.createCq(32, null, null, null));
    WorkCompletion[] out = new WorkCompletion[8];
    assertEquals(0, cq.poll(out), "empty CQ");
    assertNull(cq.poll(), "empty CQ");
    List<WorkCompletion> pushed = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      WorkCompletion wc = success(i);
      pushed.add(wc);
      assertTrue(Internal.push(cq, wc, false));
    }
    WorkCompletion sentinel = success(-1);
    Arrays.fill(out, sentinel);
    assertEquals(3, cq.poll(out, 3));
    assertSame(pushed.get(0), out[0]);
    assertSame(pushed.get(1), out[1]);
    assertSame(pushed.get(2), out[2]);
    assertSame(sentinel, out[3], "poll wrote past max");
    assertEquals(0, cq.poll(out, 0), "max 0 takes nothing");
    assertEquals(0, cq.poll(out, -5), "negative max takes nothing");
    assertEquals(17, cq.peek());
    assertEquals(8, cq.poll(out, 100), "max above out.length is capped by out.length");
    for (int k = 0; k < 8; k++) {
      assertSame(pushed.get(3 + k), out[k]);
    }
    assertSame(pushed.get(11), cq.poll(), "poll() takes the next one");
    Arrays.fill(out, sentinel);
    assertEquals(8, cq.poll(out), "poll(out) is poll(out, out.length)");
    for (int k = 0; k < 8; k++) {
      assertSame(pushed.get(12 + k), out[k]);
    }
    Arrays.fill(out, sentinel);
    assertEquals(0, cq.poll(out, 5));
    assertSame(sentinel, out[0], "an empty poll writes nothing");
    assertNull(cq.poll());
  }

  // ---- overflow ----

  private record Seen(AsyncEvent event, boolean atomic, Thread thread) {}

  @Test
  @DisplayName("overflow (6.3): a push beyond capacity returns false, the CQ's event handler gets exactly one "
      + "CQ_ERR for this CQ in atomic context, later pushes return false, and the first capacity completions "
      + "are all still pollable")
  void overflowRaisesOneCqErrAndDropsNothingBeforeIt() {
    Device d = register();
    TestProbe<Seen> events = kit.createTestProbe();
    // Every call of either event handler, recorded in the handler itself (the probe's copy arrives later).
    ConcurrentLinkedQueue<String> calls = new ConcurrentLinkedQueue<>();
    CompletionQueue cq = await(d.createCq(8, null, e -> {
      calls.add("cq: " + e);
      events.getRef().tell(new Seen(e, AtomicContext.isAtomic(), Thread.currentThread()));
    }, null));
    CompletionQueue other = await(d.createCq(8, null, e -> {
      calls.add("other: " + e);
      events.getRef().tell(new Seen(e, AtomicContext.isAtomic(), Thread.currentThread()));
    }, null));
    int cap = cq.capacity();
    assertEquals(8, cap);
    List<WorkCompletion> pushed = new ArrayList<>();
    for (int i = 0; i < cap; i++) {
      WorkCompletion wc = success(i);
      pushed.add(wc);
      assertTrue(Internal.push(cq, wc, false), "push " + i + " fits");
    }
    assertFalse(cq.overflowed());
    Seen seen = LoggingTestKit.error("CQ #" + cq.number() + " on " + d.name() + " overflowed").expect(kit.system(),
        () -> {
          assertFalse(Internal.push(cq, success(cap), false), "the push that does not fit returns false");
          return events.expectMessageClass(Seen.class);
        });
    assertTrue(cq.overflowed());
    assertEquals(AsyncEventType.CQ_ERR, seen.event().type());
    assertEquals(new EventElement.OfCq(cq.number()), seen.event().element());
    assertSame(d, seen.event().device());
    assertTrue(seen.atomic(), "the CQ event handler runs in atomic context");
    assertNotSame(Thread.currentThread(), seen.thread(), "not called from the pusher's call chain");
    assertNotEquals(cq.number(), other.number());

    // Later pushes fail too, even once there is room again: the CQ is in error.
    assertFalse(Internal.push(cq, success(100), false));
    assertSame(pushed.get(0), cq.poll());
    assertFalse(Internal.push(cq, success(101), true), "still in error after a poll made room");

    // Nothing before the overflow point was dropped, and nothing after it got in.
    List<WorkCompletion> rest = new ArrayList<>();
    for (WorkCompletion wc = cq.poll(); wc != null; wc = cq.poll()) {
      rest.add(wc);
    }
    assertEquals(pushed.subList(1, cap), rest);
    assertFalse(other.overflowed(), "the other CQ is not affected");
    assertTrue(Internal.push(other, success(1), false));

    // Exactly one CQ_ERR: once both CQs' actors (the only callers of their event handlers) have stopped, they
    // have handled everything the pushes above told them, so the record is final.
    await(cq.destroy());
    await(other.destroy());
    Fences.awaitCqActorStopped(kit, cq);
    Fences.awaitCqActorStopped(kit, other);
    assertEquals(List.of("cq: " + seen.event()), List.copyOf(calls), "event handler calls");
  }

  @Test
  @DisplayName("overflow (6.3): concurrent pushers overflowing a CQ together raise exactly one CQ_ERR, and "
      + "exactly capacity pushes succeed")
  void concurrentOverflowRaisesExactlyOneCqErr() throws Exception {
    Device d = register();
    int rounds = 150;
    List<CompletionQueue> cqs = new ArrayList<>();
    Map<Integer, AtomicInteger> errs = new ConcurrentHashMap<>();
    ConcurrentLinkedQueue<String> badEvents = new ConcurrentLinkedQueue<>();
    for (int r = 0; r < rounds; r++) {
      cqs.add(await(d.createCq(2, null, e -> {
        if (e.type() != AsyncEventType.CQ_ERR || !(e.element() instanceof EventElement.OfCq c)) {
          badEvents.add(e.toString());
          return;
        }
        errs.computeIfAbsent(c.cqNum(), k -> new AtomicInteger()).incrementAndGet();
      }, null)));
    }
    assertEquals(rounds, cqs.stream().mapToInt(CompletionQueue::number).distinct().count());
    AtomicIntegerArray accepted = new AtomicIntegerArray(rounds);
    // Each round, 4 threads meet at a barrier-free spin gate and push 4 completions each into a CQ of 2.
    AtomicInteger gate = new AtomicInteger();
    Workers pushers = Workers.start("overflower", PUSHERS, p -> {
      Backoff backoff = new Backoff();
      for (int r = 0; r < rounds; r++) {
        gate.incrementAndGet();
        while (gate.get() < (r + 1) * PUSHERS) {
          backoff.pause();
        }
        backoff.reset();
        CompletionQueue cq = cqs.get(r);
        for (int k = 0; k < 4; k++) {
          if (Internal.push(cq, success(p * 4L + k), false)) {
            accepted.incrementAndGet(r);
          }
        }
      }
    });
    LoggingTestKit.error("overflowed").withOccurrences(rounds).withCheckExcess(false).expect(kit.system(), () -> {
      Workers.go(pushers);
      try {
        pushers.join(TIMEOUT);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      return null;
    });
    List<String> wrong = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      CompletionQueue cq = cqs.get(r);
      if (accepted.get(r) != cq.capacity()) {
        wrong.add(cq + ": " + accepted.get(r) + " pushes accepted, capacity " + cq.capacity());
      }
      if (cq.peek() != cq.capacity()) {
        wrong.add(cq + ": " + cq.peek() + " waiting");
      }
    }
    // A CQ's actor is the only caller of its event handler: once it has stopped (destroy completes after
    // that) it has handled every OVERFLOWED the pushers told it, so each count of CQ_ERR is final.
    List<CompletableFuture<?>> destroys = new ArrayList<>();
    for (CompletionQueue cq : cqs) {
      destroys.add(cq.destroy().toCompletableFuture());
    }
    for (int r = 0; r < rounds; r++) {
      await(destroys.get(r));
      Fences.awaitCqActorStopped(kit, cqs.get(r));
    }
    assertTrue(badEvents.isEmpty(), badEvents.toString());
    for (CompletionQueue cq : cqs) {
      int n = errs.getOrDefault(cq.number(), new AtomicInteger()).get();
      if (n != 1 && wrong.size() < 10) {
        wrong.add(cq + ": " + n + " CQ_ERR events");
      }
    }
    assertTrue(wrong.isEmpty(), wrong.toString());
  }

  @Test
  @DisplayName("overflow counters: the QP whose completion overflowed its CQ counts it (cq_overflow) once, so "
      + "does the QP's port and no other, and the port keeps it once the QP is destroyed")
  void overflowIsCountedOnTheQpAndItsPort() {
    VerbsTestDriver driver = new VerbsTestDriver().ports(2).withQps();
    Device d = register(driver);
    ProtectionDomain pd = await(d.allocPd());
    CompletionQueue sendCq = await(d.createCq(8, null, null, null));
    CompletionQueue small = await(d.createCq(2, null, null, null));
    QueuePair qp = await(pd.createQp(new QpInitAttr(QpType.UD, sendCq, small, new QpCap(4, 4, 1, 1, 0), true,
        null, null)));
    await(QpConnect.ud(qp, 2, 0x11, 0));
    MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    for (int i = 0; i < 4; i++) {
      qp.postRecv(RecvWr.of(i, Sge.of(mr, 64L * i, 64)));
    }
    assertEquals(0, qp.counters().cqOverflows());
    // The test is the QP's driver: 4 receives complete into a CQ of 2. The third overflows it; the fourth finds
    // it in error already, which is no new overflow.
    QpContext side = driver.qp(qp.qpNum());
    List<Boolean> fitted = new ArrayList<>();
    LoggingTestKit.error("CQ #" + small.number() + " on " + d.name() + " overflowed").expect(kit.system(), () -> {
      for (int i = 0; i < 4; i++) {
        RecvWqe wqe = side.takeRecv();
        fitted.add(side.completeRecv(wqe, WcOpcode.RECV, 8, 0, 0, 0, 0, 0, false));
      }
      return null;
    });
    assertEquals(List.of(true, true, false, false), fitted);
    TransportCounters c = qp.counters();
    assertEquals(1, c.cqOverflows(), c::toString);
    assertEquals(1L, c.asMap().get("cq_overflow"), c.asMap()::toString);
    assertEquals(1, d.portCounters(2).cqOverflows(), "the QP's port");
    assertEquals(0, d.portCounters(1).cqOverflows(), "another port");
    Deadline deadline = Deadline.in(TIMEOUT);
    while (qp.state() != QpState.ERR) {
      assertFalse(deadline.passed(), "the overflow moves the QP to ERR: " + qp);
      Thread.onSpinWait();
    }
    await(qp.destroy());
    assertEquals(1, d.portCounters(2).cqOverflows(), "a destroyed QP's count stays in its port's");
    await(mr.deregister());
    await(small.destroy());
    await(sendCq.destroy());
    await(pd.dealloc());
  }

  // ---- destroy, usecount ----

  @Test
  @DisplayName("destroy (3.1): fails with ResourceBusyException while retained, succeeds after release, and a "
      + "second destroy fails with NotRegisteredException")
  void destroyHonoursTheUseCountAndIsOnce() {
    Device d = register();
    TestProbe<String> calls = kit.createTestProbe();
    AtomicInteger handlerCalls = new AtomicInteger();
    CompletionQueue cq = await(d.createCq(8, c -> {
      handlerCalls.incrementAndGet();
      calls.getRef().tell("called");
    }, null, null));
    Internal.impl(cq).retain();
    Internal.impl(cq).retain();
    ResourceBusyException busy = assertFailsWith(ResourceBusyException.class, cq.destroy());
    assertTrue(busy.getMessage().contains("CQ #" + cq.number()), busy.getMessage());
    Internal.impl(cq).release();
    assertFailsWith(ResourceBusyException.class, cq.destroy());
    // Still fully working after the refused destroys.
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    calls.expectMessage("called");
    Internal.impl(cq).release();
    await(cq.destroy());
    assertFalse(Internal.push(cq, success(2), false), "push into a destroyed CQ fails");
    // A destroyed CQ refuses the data-path verbs with a typed error (it used to answer as an empty CQ).
    assertThrows(dev.midlayer.verbs.ObjectDestroyedException.class, () -> cq.requestNotify(CqNotify.NEXT_COMP, false));
    assertThrows(dev.midlayer.verbs.ObjectDestroyedException.class, () -> cq.poll());
    assertFalse(Internal.push(cq, success(3), true));
    // The CQ's actor, the only caller of its handler, has stopped: the count is final.
    Fences.awaitCqActorStopped(kit, cq);
    assertEquals(1, handlerCalls.get(), "handler calls: one for the one armed push, none for the refused ones");
    NotRegisteredException twice = assertFailsWith(NotRegisteredException.class, cq.destroy());
    assertTrue(twice.getMessage().contains("destroyCq"), twice.getMessage());
  }

  @Test
  @DisplayName("context (9.1): createCq and allocCq from inside an async event handler fail with "
      + "IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void createCqFromAnEventHandlerIsRefused() {
    Device d = register();
    CompletableFuture<List<Object>> outcome = new CompletableFuture<>();
    await(d.registerEventHandler("cq-maker", e -> {
      List<Object> results = new ArrayList<>();
      results.add(AtomicContext.isAtomic());
      results.add(attempt(() -> d.createCq(8, null, null, null)));
      results.add(attempt(() -> d.allocCq(8, PollContext.ACTOR)));
      results.add(attempt(() -> d.allocCq(8, PollContext.DIRECT)));
      outcome.complete(results);
    }));
    Internal.dispatch(d, AsyncEvent.ofPort(d, AsyncEventType.SM_CHANGE, 1));
    List<Object> results = await(outcome);
    assertEquals(Boolean.TRUE, results.get(0), "the event handler runs in atomic context");
    assertRefused(results.get(1), "createCq");
    assertRefused(results.get(2), "allocCq");
    assertRefused(results.get(3), "allocCq");
  }

  @Test
  @DisplayName("context (9.1): createCq and destroy of the CQ itself from inside its completion handler fail "
      + "with IllegalContextException")
  @ExpectViolations(Check.MAY_SLEEP_IN_ATOMIC) // the test calls may-sleep verbs in a callback on purpose
  void createAndDestroyCqFromACompletionHandlerAreRefused() {
    Device d = register();
    CompletableFuture<List<Object>> outcome = new CompletableFuture<>();
    CompletionQueue cq = await(d.createCq(8, c -> {
      List<Object> results = new ArrayList<>();
      results.add(AtomicContext.isAtomic());
      results.add(attempt(() -> d.createCq(8, null, null, null)));
      results.add(attempt(c::destroy));
      outcome.complete(results);
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    List<Object> results = await(outcome);
    assertEquals(Boolean.TRUE, results.get(0), "the completion handler runs in atomic context");
    assertRefused(results.get(1), "createCq");
    assertRefused(results.get(2), "destroyCq");
    await(cq.destroy()); // outside the handler it works, and the refused destroy did not count
  }

  /** What the verb threw at once, or what its stage failed with, or "succeeded". */
  private static Object attempt(Supplier<? extends CompletionStage<?>> verb) {
    try {
      CompletionStage<?> stage = verb.get();
      return stage.toCompletableFuture().isCompletedExceptionally() ? "stage failed" : "succeeded";
    } catch (Throwable t) {
      return t;
    }
  }

  private static void assertRefused(Object result, String verb) {
    IllegalContextException e = assertInstanceOf(IllegalContextException.class, result, verb);
    assertEquals(verb, e.verb());
    assertTrue(e.callback() != null && !e.callback().isEmpty(), "names the callback");
  }

  // ---- reclaim at unregisterDevice ----

  @Test
  @DisplayName("reclaim (I3/I4): a CQ left at unregisterDevice is reported (warning with 'CQ #' and 'reclaimed'), "
      + "and its handler never runs again")
  void leftoverCqIsReportedAndReclaimedAtUnregisterDevice() {
    Device d = register();
    TestProbe<Long> calls = kit.createTestProbe();
    List<Long> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletionQueue cq = await(d.createCq(64, c -> {
      for (WorkCompletion wc = c.poll(); wc != null; wc = c.poll()) {
        handled.add(wc.wrId());
        calls.getRef().tell(wc.wrId());
      }
      c.requestNotify(CqNotify.NEXT_COMP, false);
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(7), false));
    calls.expectMessage(7L);
    String prefix = "CQ #" + cq.number() + " (";
    LoggingTestKit.warn(prefix).withMessageRegex(".*reclaimed.*").expect(kit.system(),
        () -> await(midlayer.unregisterDevice(d)));
    assertFalse(Internal.push(cq, success(8), true), "push into a reclaimed CQ fails");
    assertFalse(Internal.push(cq, success(9), false));
    // The handler re-armed itself after 7, so only the CQ being reclaimed keeps 8 and 9 from running it. Its
    // actor, the only caller of the handler, has stopped: what the handler recorded is final.
    Fences.awaitCqActorStopped(kit, cq);
    assertEquals(List.of(7L), handled, "completions the handler ever saw");
    // A reclaimed CQ refuses the data-path verbs with DeviceUnregisteredException (it used to answer as empty).
    assertThrows(DeviceUnregisteredException.class, () -> cq.poll(), "poll on the reclaimed CQ");
    assertThrows(DeviceUnregisteredException.class, () -> cq.requestNotify(CqNotify.NEXT_COMP, false));
    assertInstanceOf(DeviceUnregisteredException.class, assertVerbFails(DeviceUnregisteredException.class,
        cq::destroy));
    assertVerbFails(DeviceUnregisteredException.class, () -> d.createCq(8, null, null, null));
    assertVerbFails(DeviceUnregisteredException.class, () -> d.allocCq(8, PollContext.DIRECT));
  }

  @Test
  @DisplayName("fence (I3): when unregisterDevice completes, the completion handler of a CQ left behind is not "
      + "running and will not run again, even if a notification was pending")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void unregisterDeviceIsAFenceForALeftoverCqsHandler() throws Exception {
    Device d = register();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();
    AtomicLong callsAfterUnregister = new AtomicLong();
    AtomicBoolean unregistered = new AtomicBoolean();
    CompletionQueue cq = await(d.createCq(64, c -> {
      running.incrementAndGet();
      try {
        if (unregistered.get()) {
          callsAfterUnregister.incrementAndGet();
        }
        if (calls.incrementAndGet() == 1) {
          entered.countDown();
          try { // a slow handler (bounded), standing in for one that is still busy when unregister starts
            release.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      } finally {
        running.decrementAndGet();
      }
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    assertTrue(entered.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    // While the first call runs, a second notification is queued.
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(2), false));
    // What runs at the instant unregisterDevice completes, and from then on every call counts as late.
    AtomicInteger runningAtCompletion = new AtomicInteger();
    CompletableFuture<?> unregister = midlayer.unregisterDevice(d).toCompletableFuture().whenComplete((v, e) -> {
      runningAtCompletion.set(running.get());
      unregistered.set(true);
    });
    try {
      windowForAnEarlyCompletion(unregister); // a fence waits for the handler: it cannot complete in here
    } finally {
      release.countDown();
    }
    await(unregister);
    // The CQ's actor, the only caller of its handler, has stopped: no call can follow, the counts are final.
    Fences.awaitCqActorStopped(kit, cq);
    assertAll(
        () -> assertEquals(0, runningAtCompletion.get(), "handlers still running when unregisterDevice completed"),
        () -> assertEquals(0, callsAfterUnregister.get(), "handler calls after unregisterDevice completed"));
  }

  @Test
  @DisplayName("fence (3.3): when destroy() completes, the CQ's completion handler is not running and a pending "
      + "notification never runs it")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void destroyIsAFenceForTheCompletionHandler() throws Exception {
    Device d = register();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger callsAfterDestroy = new AtomicInteger();
    AtomicBoolean destroyed = new AtomicBoolean();
    CompletionQueue cq = await(d.createCq(64, c -> {
      running.incrementAndGet();
      try {
        if (destroyed.get()) {
          callsAfterDestroy.incrementAndGet();
        }
        if (calls.incrementAndGet() == 1) {
          entered.countDown();
          try {
            release.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      } finally {
        running.decrementAndGet();
      }
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    assertTrue(entered.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(2), false));
    AtomicInteger runningAtCompletion = new AtomicInteger();
    CompletableFuture<?> destroy = cq.destroy().toCompletableFuture().whenComplete((v, e) -> {
      runningAtCompletion.set(running.get());
      destroyed.set(true);
    });
    try {
      windowForAnEarlyCompletion(destroy); // a fence waits for the handler: it cannot complete in here
    } finally {
      release.countDown();
    }
    await(destroy);
    Fences.awaitCqActorStopped(kit, cq); // the only caller of the handler: the counts are final
    assertAll(
        () -> assertEquals(0, runningAtCompletion.get(), "handlers still running when destroy() completed"),
        () -> assertEquals(0, callsAfterDestroy.get(), "handler calls after destroy() completed"));
  }

  /** How long the fence tests hold the handler busy while the verb that must wait for it is under way. */
  private static final Duration HOLD = Duration.ofMillis(500);

  /**
   * Gives {@code verb} up to {@link #HOLD} to complete while the test holds a handler busy. No event can be
   * fenced on here: what is checked is that the verb does <em>not</em> complete before the handler returns, and
   * only time can show a completion that should not happen. A correct midlayer passes whatever the load (it
   * cannot complete in this window); a broken one is caught unless it needs longer than HOLD to complete.
   * Whether and when it completed is recorded by the caller's completion callback.
   */
  private static void windowForAnEarlyCompletion(CompletableFuture<?> verb) throws InterruptedException {
    try {
      verb.get(HOLD.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException waitingForTheHandler) {
      // what a fence does
    } catch (java.util.concurrent.ExecutionException failed) {
      // reported by the caller's await
    }
  }
}
