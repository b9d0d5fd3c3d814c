package dev.midlayer.cq;

import dev.midlayer.testsupport.Internal;
import static dev.midlayer.testsupport.CqFixtures.TIMEOUT;
import static dev.midlayer.testsupport.CqFixtures.failed;
import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testsupport.CqFixtures.Backoff;
import dev.midlayer.testsupport.CqFixtures.Workers;
import dev.midlayer.testsupport.ContextTestClient;
import dev.midlayer.testsupport.CqFixtures;
import dev.midlayer.testsupport.EventFixtures;
import dev.midlayer.testsupport.VerbsTestDriver;
import dev.midlayer.verbs.WorkCompletion;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * CQ notification (reference 6.1, 6.2; seed "Callbacks"): one-shot arming, SOLICITED vs NEXT_COMP,
 * upgrade without downgrade, "report missed events", no callback from the pusher's call chain (I6), one
 * handler call at a time per CQ (I7), the race-free consumer idiom (I8) under load, and a throwing handler.
 * The test plays the driver and pushes completions from plain threads.
 */
class CqNotifyTest {
  private static final ThreadLocal<Boolean> IN_PUSH = ThreadLocal.withInitial(() -> false);

  private ActorTestKit kit;
  private Device device;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("CqNotifyTest");
    device = await(Midlayer.get(kit.system()).registerDevice("ntf%d", new VerbsTestDriver().ops()));
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  /** A CQ whose handler only reports each call (with the number of completions waiting) to {@code calls}. */
  private CompletionQueue cqReportingTo(TestProbe<Integer> calls, int cqe) {
    return await(device.createCq(cqe, c -> calls.getRef().tell(c.peek()), null, null));
  }

  private long marker = 1_000_000;

  /**
   * Proves that no handler call is pending, without waiting for a quiet period. Pushes a marker (after arming the
   * CQ with NEXT_COMP when {@code arm}); the CQ actor takes notifications in order, so the next call must be the
   * marker's and see every completion, marker included. A wrong call made before it is received first and sees
   * fewer. With {@code arm} false it also proves that the CQ was armed. Leaves the CQ disarmed, one more waiting.
   */
  private void assertNoCallPending(CompletionQueue cq, TestProbe<Integer> calls, boolean arm) {
    if (arm) {
      cq.requestNotify(CqNotify.NEXT_COMP, false);
    }
    int waiting = cq.peek() + 1;
    assertTrue(Internal.push(cq, success(marker++), false));
    assertEquals(waiting, calls.expectMessageClass(Integer.class),
        "the first handler call after this point must be the marker's, seeing " + waiting + " completions");
  }

  // ---- one-shot arming ----

  @Test
  @DisplayName("one-shot (6.1, I8): no handler call before arming; after requestNotify(NEXT_COMP) the first push "
      + "runs the handler once, later pushes do not until the CQ is re-armed")
  void nextCompArmingIsOneShot() {
    TestProbe<Integer> calls = kit.createTestProbe();
    CompletionQueue cq = cqReportingTo(calls, 64);
    assertTrue(Internal.push(cq, success(0), false));
    assertTrue(Internal.push(cq, failed(1, WcStatus.LOC_PROT_ERR), true));
    assertNoCallPending(cq, calls, true); // a new CQ is not armed (3 waiting now)

    assertFalse(cq.requestNotify(CqNotify.NEXT_COMP, false));
    assertTrue(Internal.push(cq, success(2), false));
    assertEquals(4, calls.expectMessageClass(Integer.class));
    for (int i = 3; i < 10; i++) {
      assertTrue(Internal.push(cq, i % 2 == 0 ? success(i) : failed(i, WcStatus.WR_FLUSH_ERR), i % 3 == 0));
    }
    assertNoCallPending(cq, calls, true); // disarmed as it fired (12 waiting)

    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertNoCallPending(cq, calls, false); // arming a non-empty CQ does not fire by itself, but arms it (13)
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(10), false));
    assertEquals(14, calls.expectMessageClass(Integer.class), "the handler sees every completion waiting");
    assertTrue(Internal.push(cq, success(11), false));
    assertNoCallPending(cq, calls, true);
    assertEquals(16, cq.peek(), "notification consumed nothing");
  }

  @Test
  @DisplayName("SOLICITED (6.1): ignores successful unsolicited completions, fires for "
      + "push(wc, true) and for a completion of any error status")
  void solicitedArmingFiresOnlyForSolicitedOrErrorCompletions() {
    TestProbe<Integer> calls = kit.createTestProbe();
    CompletionQueue cq = cqReportingTo(calls, 256);
    cq.requestNotify(CqNotify.SOLICITED, false);
    for (int i = 0; i < 5; i++) {
      assertTrue(Internal.push(cq, success(i), false));
    }
    assertNoCallPending(cq, calls, true); // NEXT_COMP over the SOLICITED arming: only the marker fires (6)
    cq.requestNotify(CqNotify.SOLICITED, false);
    assertTrue(Internal.push(cq, success(5), true));
    assertEquals(7, calls.expectMessageClass(Integer.class));
    assertTrue(Internal.push(cq, success(6), true));
    assertNoCallPending(cq, calls, true); // one-shot for SOLICITED too

    long id = 100;
    for (WcStatus status : WcStatus.values()) {
      if (status == WcStatus.SUCCESS) {
        continue;
      }
      cq.requestNotify(CqNotify.SOLICITED, false);
      assertTrue(Internal.push(cq, success(id++), false));
      int waiting = cq.peek() + 1;
      assertTrue(Internal.push(cq, failed(id++, status), false), status.toString());
      assertEquals(waiting, calls.expectMessageClass(Integer.class, Duration.ofSeconds(5)),
          status + ": the error completion fired it, not the success before it");
    }
    assertNoCallPending(cq, calls, true);
  }

  @Test
  @DisplayName("arming (6.1): NEXT_COMP over SOLICITED upgrades the arming; SOLICITED over NEXT_COMP does not "
      + "downgrade it")
  void nextCompUpgradesAndSolicitedDoesNotDowngrade() {
    TestProbe<Integer> calls = kit.createTestProbe();
    CompletionQueue cq = cqReportingTo(calls, 64);
    cq.requestNotify(CqNotify.SOLICITED, false);
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1), false));
    assertEquals(1, calls.expectMessageClass(Integer.class));
    assertTrue(Internal.push(cq, success(2), true));
    assertNoCallPending(cq, calls, true); // fired once, disarmed (3 waiting)

    cq.requestNotify(CqNotify.NEXT_COMP, false);
    cq.requestNotify(CqNotify.SOLICITED, false);
    assertTrue(Internal.push(cq, success(3), false), "unsolicited success");
    assertEquals(4, calls.expectMessageClass(Integer.class));
    assertTrue(Internal.push(cq, success(4), true));
    assertNoCallPending(cq, calls, true); // (6 waiting)

    cq.requestNotify(CqNotify.SOLICITED, false);
    cq.requestNotify(CqNotify.SOLICITED, false); // arming twice is still one notification
    assertTrue(Internal.push(cq, success(5), true));
    assertTrue(Internal.push(cq, success(6), true));
    calls.expectMessageClass(Integer.class); // sees 7 or 8: the actor may run after the second push
    assertNoCallPending(cq, calls, true); // and no second call for the second push
  }

  @Test
  @DisplayName("report missed events (6.1): requestNotify(.., true) returns true while completions are waiting and "
      + "false when the CQ is empty; without the flag it always returns false; the CQ is armed either way")
  void reportMissedEventsTellsWhetherCompletionsAreWaiting() {
    TestProbe<Integer> calls = kit.createTestProbe();
    CompletionQueue cq = cqReportingTo(calls, 64);
    assertFalse(cq.requestNotify(CqNotify.NEXT_COMP, true), "empty CQ");
    assertFalse(cq.requestNotify(CqNotify.SOLICITED, true), "empty CQ");
    assertTrue(Internal.push(cq, success(1), false)); // fires the NEXT_COMP arming
    assertEquals(1, calls.expectMessageClass(Integer.class));
    assertTrue(Internal.push(cq, success(2), false));
    long fence = marker;
    assertNoCallPending(cq, calls, true); // 3 waiting: 1, 2 and the marker

    assertTrue(cq.requestNotify(CqNotify.NEXT_COMP, true), "3 waiting");
    assertTrue(cq.requestNotify(CqNotify.SOLICITED, true), "3 waiting");
    assertFalse(cq.requestNotify(CqNotify.NEXT_COMP, false), "without the flag");
    assertEquals(3, cq.peek(), "requestNotify consumed nothing");
    assertEquals(1, cq.poll().wrId());
    assertTrue(cq.requestNotify(CqNotify.NEXT_COMP, true), "2 waiting");
    assertEquals(2, cq.poll().wrId());
    assertEquals(fence, cq.poll().wrId());
    assertNull(cq.poll());
    assertFalse(cq.requestNotify(CqNotify.NEXT_COMP, true), "empty again");
    // Arming (with or without the flag) never fires by itself, and the calls that returned true armed it too:
    // the marker, pushed without arming again, is the next call.
    assertNoCallPending(cq, calls, false);
  }

  // ---- no callback from the call chain, atomic context ----

  private record Call(boolean inPush, boolean atomic, Thread thread, int drained) {}

  @Test
  @DisplayName("I6: the handler never runs in the pusher's call chain (not inside push, not on the pushing "
      + "thread) and runs in atomic context")
  void handlerNeverRunsInThePushersCallChain() throws Exception {
    TestProbe<Call> calls = kit.createTestProbe();
    CompletionQueue cq = await(device.createCq(1024, c -> {
      int drained = 0;
      while (c.poll() != null) {
        drained++;
      }
      calls.getRef().tell(new Call(IN_PUSH.get(), AtomicContext.isAtomic(), Thread.currentThread(), drained));
    }, null, null));
    int rounds = 100;
    // From the test thread and from two plain pusher threads, alternately.
    List<Thread> pushThreads = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      cq.requestNotify(CqNotify.NEXT_COMP, false);
      Runnable push = () -> {
        IN_PUSH.set(true);
        try {
          assertTrue(Internal.push(cq, success(ThreadLocalRandom.current().nextLong(1 << 20)), true));
        } finally {
          IN_PUSH.set(false);
        }
      };
      Thread pusher;
      if (r % 3 == 0) {
        pusher = Thread.currentThread();
        push.run();
      } else {
        pusher = new Thread(push, "pusher-" + r);
        pusher.start();
        pusher.join(TIMEOUT.toMillis());
      }
      pushThreads.add(pusher);
      Call call = calls.expectMessageClass(Call.class);
      assertFalse(call.inPush(), "round " + r + ": the handler ran inside push()");
      assertNotSame(pusher, call.thread(), "round " + r + ": the handler ran on the pushing thread");
      assertTrue(call.atomic(), "round " + r + ": the handler runs in atomic context");
      assertEquals(1, call.drained(), "round " + r + ": the call was for this round's completion");
    }
    // A marker: the next call drains exactly it. A stray call made before it would drain nothing.
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(1 << 21), false));
    assertEquals(1, calls.expectMessageClass(Call.class).drained(), "no call besides one per push");
  }

  // ---- one at a time ----

  @Test
  @DisplayName("I7: only one handler call at a time per CQ, with 8 threads pushing and the handler re-arming "
      + "(overlap detected with an AtomicInteger)")
  void handlerCallsNeverOverlap() throws Exception {
    int pushers = 8;
    int perPusher = 10_000;
    int total = pushers * perPusher;
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger invocations = new AtomicInteger();
    AtomicInteger consumed = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(1);
    WorkCompletion[] batch = new WorkCompletion[16]; // safe to share only because calls never overlap
    CompletionQueue cq = await(device.createCq(total, c -> {
      if (inside.incrementAndGet() != 1) {
        overlaps.incrementAndGet();
      }
      invocations.incrementAndGet();
      CqFixtures.spinFor(2_000); // a few microseconds of work, never a sleep
      int n;
      do {
        while ((n = c.poll(batch)) > 0) {
          if (consumed.addAndGet(n) == total) {
            all.countDown();
          }
        }
      } while (c.requestNotify(CqNotify.NEXT_COMP, true));
      inside.decrementAndGet();
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    AtomicInteger rejected = new AtomicInteger();
    AtomicInteger pushed = new AtomicInteger();
    CqFixtures.Deadline deadline = CqFixtures.Deadline.in(TIMEOUT);
    Workers w = Workers.start("pusher", pushers, p -> {
      Backoff backoff = new Backoff();
      for (int s = 0; s < perPusher; s++) {
        if (Internal.push(cq, success((long) p * perPusher + s), (s & 3) == 0)) {
          pushed.incrementAndGet();
        } else {
          rejected.incrementAndGet();
        }
        if ((s & 31) == 31) {
          // Let the handler catch up now and then and return, so that the next push calls it again.
          int target = pushed.get();
          while ((consumed.get() < target || inside.get() != 0) && !deadline.passed()) {
            backoff.pause();
          }
          backoff.reset();
        }
      }
    });
    Workers.go(w);
    w.join(TIMEOUT);
    assertEquals(0, rejected.get());
    assertTrue(all.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
        "consumed " + consumed.get() + " of " + total + ", " + cq.peek() + " stranded");
    assertEquals(0, overlaps.get(), "overlapping handler calls (" + invocations.get() + " calls)");
    // A pusher that waited for the handler to return pushes again, so there were at least two calls that
    // could have overlapped; fewer would mean the check above proved nothing.
    assertTrue(invocations.get() >= 2, "the handler ran only " + invocations.get() + " times");
    assertEquals(total, consumed.get());
  }

  // ---- the race-free consumer idiom under load ----

  private static final int PRODUCERS = 4;
  private static final int PER_PRODUCER = 25_000;
  private static final int TOTAL = PRODUCERS * PER_PRODUCER;

  /**
   * Pushes this producer's completions in random bursts with random short pauses (spins and yields); now
   * and then it waits until the consumer has caught up with everything pushed so far, so that the CQ runs
   * empty and the consumer goes back to waiting for the handler (where a lost wake-up would strand).
   */
  /**
   * Pushes in random bursts with random pauses. Now and then (always after the first burst) it waits until
   * everything pushed was consumed and {@code consumerIdle} says the consumer went back to waiting, so the
   * next push has to wake it again.
   */
  private static void produceInBursts(CompletionQueue cq, int p, AtomicInteger rejected, AtomicInteger pushed,
      CountDownLatch all, CqFixtures.Deadline deadline, java.util.function.BooleanSupplier consumerIdle) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    Backoff backoff = new Backoff();
    int s = 0;
    while (s < PER_PRODUCER) {
      int burst = Math.min(PER_PRODUCER - s, 1 + rnd.nextInt(64));
      for (int k = 0; k < burst; k++, s++) {
        if (Internal.push(cq, success((long) p * PER_PRODUCER + s), rnd.nextInt(8) == 0)) {
          pushed.incrementAndGet();
        } else {
          rejected.incrementAndGet();
        }
      }
      int pause = s == burst ? 0 : rnd.nextInt(16);
      if (pause == 0) {
        int target = pushed.get();
        while ((TOTAL - all.getCount() < target || !consumerIdle.getAsBoolean()) && !deadline.passed()) {
          backoff.pause();
        }
        backoff.reset();
      } else if (pause < 6) {
        Thread.yield();
      } else {
        for (int i = rnd.nextInt(200); i > 0; i--) {
          Thread.onSpinWait();
        }
      }
    }
  }

  /** Marks each polled completion; returns false on a duplicate or a wrId that was never pushed. */
  private static boolean consume(WorkCompletion wc, AtomicIntegerArray seen, AtomicInteger bad, CountDownLatch all) {
    long id = wc.wrId();
    if (id < 0 || id >= TOTAL || seen.incrementAndGet((int) id) != 1) {
      bad.incrementAndGet();
      return false;
    }
    all.countDown();
    return true;
  }

  private void assertAllConsumedOnce(CompletionQueue cq, AtomicIntegerArray seen, AtomicInteger bad,
      CountDownLatch all) throws InterruptedException {
    boolean done = all.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(done, all.getCount() + " of " + TOTAL + " completions never consumed (" + cq.peek()
        + " stranded in the CQ): a lost wake-up");
    assertEquals(0, bad.get(), "duplicates or unknown wrIds");
    for (int i = 0; i < TOTAL; i++) {
      if (seen.get(i) != 1) {
        throw new AssertionError("wrId " + i + " consumed " + seen.get(i) + " times");
      }
    }
    assertEquals(0, cq.peek());
  }

  @Test
  @DisplayName("I8 lost wake-up: a handler that polls at most 16 at a time and re-arms with reportMissedEvents, "
      + "looping while it returns true, never strands a completion (4 producers x 25,000 in random bursts)")
  void raceFreeIdiomInTheHandlerNeverStrandsACompletion() throws Exception {
    AtomicIntegerArray seen = new AtomicIntegerArray(TOTAL);
    AtomicInteger bad = new AtomicInteger();
    AtomicInteger wakeUps = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(TOTAL);
    WorkCompletion[] batch = new WorkCompletion[16];
    AtomicInteger inHandler = new AtomicInteger();
    CompletionQueue cq = await(device.createCq(TOTAL, c -> {
      inHandler.incrementAndGet();
      wakeUps.incrementAndGet();
      do {
        int n = c.poll(batch, 16); // at most 16 per round, then re-arm
        for (int i = 0; i < n; i++) {
          consume(batch[i], seen, bad, all);
          batch[i] = null;
        }
      } while (c.requestNotify(CqNotify.NEXT_COMP, true));
      inHandler.decrementAndGet();
    }, null, null));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    AtomicInteger rejected = new AtomicInteger();
    AtomicInteger pushed = new AtomicInteger();
    CqFixtures.Deadline deadline = CqFixtures.Deadline.in(TIMEOUT);
    Workers producers = Workers.start("producer", PRODUCERS,
        p -> produceInBursts(cq, p, rejected, pushed, all, deadline, () -> inHandler.get() == 0));
    Workers.go(producers);
    producers.join(TIMEOUT);
    assertEquals(0, rejected.get(), "pushes refused");
    assertAllConsumedOnce(cq, seen, bad, all);
    // The producers waited for the handler to return before pushing on: it was woken again at least once.
    assertTrue(wakeUps.get() >= 2, "the consumer went back to waiting only " + wakeUps.get() + " times");
  }

  private enum Poll { WAKE, CONTINUE }

  /**
   * The ib_cq work-item loop as an actor: each turn polls at most 16; if it got 16 it tells itself to
   * continue, otherwise it re-arms with reportMissedEvents and tells itself to continue when that returns true.
   */
  private static Behavior<Poll> budgetedConsumer(CompletionQueue[] cq, AtomicIntegerArray seen, AtomicInteger bad,
      CountDownLatch all, AtomicInteger wakes, java.util.concurrent.atomic.AtomicBoolean idle) {
    WorkCompletion[] batch = new WorkCompletion[16];
    return Behaviors.receive((ctx, msg) -> {
      if (msg == Poll.WAKE) {
        wakes.incrementAndGet();
        idle.set(false);
      }
      int n = cq[0].poll(batch, 16);
      for (int i = 0; i < n; i++) {
        consume(batch[i], seen, bad, all);
        batch[i] = null;
      }
      if (n == 16 || cq[0].requestNotify(CqNotify.NEXT_COMP, true)) {
        ctx.getSelf().tell(Poll.CONTINUE);
      } else {
        idle.set(true); // armed and waiting for the handler's WAKE
      }
      return Behaviors.same();
    });
  }

  @Test
  @DisplayName("I8 lost wake-up: a consumer woken by the handler that polls at most 16 per turn and tells itself to "
      + "continue (when it got 16 or reportMissedEvents returns true) never strands a completion "
      + "(4 producers x 25,000 in random bursts)")
  void budgetedConsumerThatContinuesByItselfNeverStrandsACompletion() throws Exception {
    AtomicIntegerArray seen = new AtomicIntegerArray(TOTAL);
    AtomicInteger bad = new AtomicInteger();
    AtomicInteger wakes = new AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean idle = new java.util.concurrent.atomic.AtomicBoolean();
    CountDownLatch all = new CountDownLatch(TOTAL);
    CompletionQueue[] holder = new CompletionQueue[1];
    ActorRef<Poll> consumer = kit.spawn(budgetedConsumer(holder, seen, bad, all, wakes, idle), "consumer",
        DispatcherSelector.fromConfig("midlayer.data-path-dispatcher"));
    CompletionQueue cq = await(device.createCq(TOTAL, c -> consumer.tell(Poll.WAKE), null, null));
    holder[0] = cq;
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    AtomicInteger rejected = new AtomicInteger();
    AtomicInteger pushed = new AtomicInteger();
    CqFixtures.Deadline deadline = CqFixtures.Deadline.in(TIMEOUT);
    Workers producers = Workers.start("producer", PRODUCERS,
        p -> produceInBursts(cq, p, rejected, pushed, all, deadline, idle::get));
    Workers.go(producers);
    producers.join(TIMEOUT);
    assertEquals(0, rejected.get(), "pushes refused");
    assertAllConsumedOnce(cq, seen, bad, all);
    // The producers waited for the consumer to go idle before pushing on: the handler woke it again.
    assertTrue(wakes.get() >= 2, "the consumer was woken only " + wakes.get() + " times");
  }

  // ---- a throwing handler ----

  @Test
  @DisplayName("a handler that throws (unchecked or checked) is logged, and the CQ keeps working: re-armed, it "
      + "notifies again")
  void throwingHandlerIsLoggedAndTheCqKeepsWorking() {
    TestProbe<Long> calls = kit.createTestProbe();
    ConcurrentHashMap<Long, Boolean> throwFor = new ConcurrentHashMap<>();
    CompletionQueue cq = await(device.createCq(64, c -> {
      WorkCompletion wc = c.poll();
      calls.getRef().tell(wc.wrId());
      if (throwFor.containsKey(wc.wrId())) {
        c.requestNotify(CqNotify.NEXT_COMP, false); // re-armed before it throws
        if (wc.wrId() == 1) {
          throw new IllegalStateException("boom from the completion handler");
        }
        throw EventFixtures.sneakyThrow(new IOException("checked boom"));
      }
    }, null, null));
    throwFor.put(1L, true);
    throwFor.put(2L, true);
    String who = "completion handler of CQ #" + cq.number() + " on " + device.name() + " threw";
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    LoggingTestKit.error(who).withCause(IllegalStateException.class)
        .withMdc(Map.of("midlayer.device", device.name())).expect(kit.system(), () -> {
      assertTrue(Internal.push(cq, success(1), false));
      return calls.expectMessage(1L);
    });
    LoggingTestKit.error(who).withCause(IOException.class).expect(kit.system(), () -> {
      assertTrue(Internal.push(cq, success(2), false)); // the arming made before the throw still holds
      return calls.expectMessage(2L);
    });
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(3), false));
    calls.expectMessage(3L);
    // The handler did not re-arm for 3: a push without arming calls nothing, and the next call is the marker's.
    assertTrue(Internal.push(cq, success(4), false));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(5), false));
    calls.expectMessage(4L); // it polls one per call: 4 first, as the marker's call
    assertEquals(1, cq.peek(), "only the marker's call ran (5 is still waiting)");
    assertFalse(cq.overflowed());
  }

  @Test
  @DisplayName("the CQ actor's lines carry the MDC of the CQ: midlayer.device, and midlayer.client for a CQ a "
      + "client made in its add")
  void cqActorLinesCarryTheDeviceAndTheClient() {
    Midlayer midlayer = Midlayer.get(kit.system());
    CompletableFuture<CompletionQueue> made = new CompletableFuture<>();
    ContextTestClient client = new ContextTestClient("cq-mdc", (d, self) ->
        d.createCq(8, c -> {
          c.poll();
          throw new IllegalStateException("boom from the completion handler");
        }, null, null).whenComplete((cq, e) -> {
          if (e != null) {
            made.completeExceptionally(e);
          } else {
            made.complete(cq);
          }
        }));
    ClientId id = await(midlayer.registerClient(client));
    CompletionQueue cq = await(made);
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    LoggingTestKit.error("completion handler of CQ #" + cq.number() + " on " + device.name() + " (" + id + ") threw")
        .withMdc(Map.of("midlayer.device", device.name(), "midlayer.client", id.toString()))
        .expect(kit.system(), () -> Internal.push(cq, success(1), false));
    await(cq.destroy());
    await(midlayer.unregisterClient(id));
  }
}
