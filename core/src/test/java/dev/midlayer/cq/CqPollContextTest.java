package dev.midlayer.cq;

import static dev.midlayer.testsupport.CqFixtures.TIMEOUT;
import static dev.midlayer.testsupport.CqFixtures.failed;
import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.monitor.Check;
import dev.midlayer.testsupport.CqFixtures.Backoff;
import dev.midlayer.testsupport.CqFixtures.Workers;
import dev.midlayer.testsupport.EventFixtures;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The modern CQ API's poll contexts (reference 7.1, 7.2): {@link PollContext#ACTOR}, where the CQ's actor
 * calls each work request's {@link Cqe#done} exactly once, in atomic context, one at a time, in
 * budget-limited turns that continue by themselves; and {@link PollContext#DIRECT}, where
 * {@link CompletionQueue#processDirect} calls them in the caller's thread. The test plays the driver.
 */
class CqPollContextTest {
  private final List<ActorTestKit> kits = new ArrayList<>();
  private ActorTestKit kit;
  private Device device;

  @BeforeEach
  void setUp() {
    kit = start("CqPollContextTest", ConfigFactory.load());
    device = register(kit);
  }

  @AfterEach
  void tearDown() {
    for (ActorTestKit k : kits) {
      k.shutdownTestKit();
    }
    kits.clear();
  }

  private ActorTestKit start(String name, Config config) {
    ActorTestKit k = ActorTestKit.create(name, config);
    kits.add(k);
    return k;
  }

  private static Device register(ActorTestKit k) {
    return await(Midlayer.get(k.system()).registerDevice("pc%d", new VerbsTestDriver().ops()));
  }

  // ---- ACTOR ----

  @Test
  @DisplayName("ACTOR (7.2, I7): each completion's Cqe.done(cq, wc) is called exactly once, in atomic context, "
      + "never concurrently and never on the pushing thread (4 pushers x 20,000)")
  void actorCallsEachDoneExactlyOnceInAtomicContextOneAtATime() throws Exception {
    int pushers = 4;
    int perPusher = 20_000;
    int total = pushers * perPusher;
    CompletionQueue cq = await(device.allocCq(total, PollContext.ACTOR));
    assertSame(PollContext.ACTOR, cq.pollContext());
    AtomicIntegerArray calls = new AtomicIntegerArray(total);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger notAtomic = new AtomicInteger();
    AtomicInteger wrongArgs = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(total);
    Set<Thread> pusherThreads = ConcurrentHashMap.newKeySet();
    AtomicInteger onPusherThread = new AtomicInteger();
    Cqe[] cqes = new Cqe[pushers];
    for (int p = 0; p < pushers; p++) {
      int owner = p;
      cqes[p] = (c, wc) -> {
        if (inside.incrementAndGet() != 1) {
          overlaps.incrementAndGet();
        }
        if (!AtomicContext.isAtomic()) {
          notAtomic.incrementAndGet();
        }
        if (c != cq || wc.wrId() / perPusher != owner || !wc.ok()) {
          wrongArgs.incrementAndGet();
        }
        if (pusherThreads.contains(Thread.currentThread())) {
          onPusherThread.incrementAndGet();
        }
        calls.incrementAndGet((int) wc.wrId());
        inside.decrementAndGet();
        all.countDown();
      };
    }
    AtomicInteger rejected = new AtomicInteger();
    Workers w = Workers.start("pusher", pushers, p -> {
      pusherThreads.add(Thread.currentThread());
      Backoff backoff = new Backoff();
      for (int s = 0; s < perPusher; s++) {
        if (!Internal.push(cq, success((long) p * perPusher + s, cqes[p]), false)) {
          rejected.incrementAndGet();
        }
        if ((s & 255) == 0) {
          backoff.pause();
        }
      }
    });
    Workers.go(w);
    w.join(TIMEOUT);
    assertEquals(0, rejected.get(), "pushes refused");
    assertTrue(all.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
        all.getCount() + " done callbacks never came (" + cq.peek() + " left in the CQ)");
    // A marker pushed last is delivered after everything before it (the actor polls in order): a (wrong)
    // second call for any of them would have come first.
    CountDownLatch marker = new CountDownLatch(1);
    assertTrue(Internal.push(cq, success(total + 1L, (c, wc) -> marker.countDown()), false));
    assertTrue(marker.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "the marker's done callback");
    for (int i = 0; i < total; i++) {
      if (calls.get(i) != 1) {
        throw new AssertionError("wrId " + i + ": done called " + calls.get(i) + " times");
      }
    }
    assertEquals(0, overlaps.get(), "done callbacks that overlapped");
    assertEquals(0, notAtomic.get(), "done callbacks outside atomic context");
    assertEquals(0, wrongArgs.get(), "done callbacks with the wrong cq or wc");
    assertEquals(0, onPusherThread.get(), "done callbacks on a pushing thread");
    assertEquals(0, cq.peek());
  }

  @Test
  @DisplayName("ACTOR budget (7.2): with midlayer.cq.poll-budget = 8 and 1,000 completions waiting at once, all "
      + "are delivered without further pushes (the actor continues by itself), and the actor yields its thread "
      + "after each budget: an actor waiting for the same single thread runs before the backlog is through")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void actorContinuesPastItsBudgetByItself() throws Exception {
    int seen = bystanderSeesDoneCalls(8);
    // The actor's thread runs up to `throughput` (16) of its messages before it turns to another actor.
    assertTrue(seen <= 1 + 8 * 16, "the bystander waited for " + seen + " done calls: the budget was not kept");
  }

  @Test
  @DisplayName("the budget check can fail: with a budget larger than the backlog the actor drains all of it in one "
      + "turn, and the bystander runs only after all 1,001 done calls")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void withoutABudgetTheBystanderWaitsForTheWholeBacklog() throws Exception {
    assertEquals(1_001, bystanderSeesDoneCalls(1_000_000));
  }

  /**
   * Holds an ACTOR CQ in its first done callback while 1,000 more completions are pushed, with the callback
   * dispatcher cut to one thread; tells a bystander actor on that dispatcher from inside the callback, and
   * returns how many done calls had run when the bystander got the thread. Checks that every completion is
   * delivered once, and that the CQ is still armed after the backlog.
   */
  private int bystanderSeesDoneCalls(int budget) throws Exception {
    Config config = ConfigFactory.parseString("midlayer.cq.poll-budget = " + budget + "\n"
        + "midlayer.callback-dispatcher.backoff-executor { parallelism-min = 1, parallelism-max = 1 }")
        .withFallback(ConfigFactory.load());
    ActorTestKit budgetKit = start("CqPollContextBudget", config);
    assertEquals(budget, Midlayer.get(budgetKit.system()).settings().cqPollBudget());
    Device d = register(budgetKit);
    int more = 1_000;
    CompletionQueue cq = await(d.allocCq(2048, PollContext.ACTOR));
    AtomicInteger doneSoFar = new AtomicInteger();
    TestProbe<Integer> bystanderSaw = budgetKit.createTestProbe();
    org.apache.pekko.actor.typed.ActorRef<String> bystander = budgetKit.spawn(
        org.apache.pekko.actor.typed.javadsl.Behaviors.<String>receiveMessage(m -> {
          bystanderSaw.ref().tell(doneSoFar.get());
          return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
        }), "bystander", org.apache.pekko.actor.typed.DispatcherSelector.fromConfig("midlayer.callback-dispatcher"));
    CountDownLatch firstEntered = new CountDownLatch(1);
    CountDownLatch allPushed = new CountDownLatch(1);
    AtomicInteger waitingWhenReleased = new AtomicInteger(-1);
    AtomicIntegerArray calls = new AtomicIntegerArray(more + 1);
    CountDownLatch all = new CountDownLatch(more + 1);
    Cqe hold = (c, wc) -> {
      // Holds the actor (bounded) so that far more than the budget is waiting when it goes on.
      bystander.tell("your turn"); // queued behind the CQ actor on the one thread
      firstEntered.countDown();
      try {
        allPushed.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      waitingWhenReleased.set(c.peek());
      calls.incrementAndGet((int) wc.wrId());
      doneSoFar.incrementAndGet();
      all.countDown();
    };
    Cqe count = (c, wc) -> {
      calls.incrementAndGet((int) wc.wrId());
      doneSoFar.incrementAndGet();
      all.countDown();
    };
    assertTrue(Internal.push(cq, success(0, hold), false)); // armed at creation: the actor starts polling
    assertTrue(firstEntered.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    for (int i = 1; i <= more; i++) {
      assertTrue(Internal.push(cq, success(i, count), false));
    }
    allPushed.countDown();
    assertTrue(all.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
        all.getCount() + " of " + (more + 1) + " never delivered; " + cq.peek() + " stuck in the CQ");
    assertEquals(more, waitingWhenReleased.get(), "completions waiting when the first done returned");
    for (int i = 0; i <= more; i++) {
      assertEquals(1, calls.get(i), "done calls for wrId " + i);
    }
    // And it is still armed: a later single push is delivered too.
    CountDownLatch late = new CountDownLatch(1);
    assertTrue(Internal.push(cq, success(5000, (c, wc) -> late.countDown()), false));
    assertTrue(late.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "a later push after the backlog");
    return bystanderSaw.receiveMessage(TIMEOUT);
  }

  @Test
  @DisplayName("ACTOR (7.2): a successful completion without a Cqe is skipped with one warning per CQ; error "
      + "completions without one are skipped silently; the others are still delivered")
  void successfulCompletionWithoutCqeIsSkippedWithOneWarning() {
    CompletionQueue cq = await(device.allocCq(64, PollContext.ACTOR));
    TestProbe<Long> done = kit.createTestProbe();
    Cqe report = (c, wc) -> done.getRef().tell(wc.wrId());
    LoggingTestKit.warn("has no Cqe").withMessageContains("wr_id 11").expect(kit.system(), () -> {
      assertTrue(Internal.push(cq, success(10, report), false));
      assertTrue(Internal.push(cq, success(11), false));
      assertTrue(Internal.push(cq, failed(12, WcStatus.WR_FLUSH_ERR), false));
      assertTrue(Internal.push(cq, success(13), false));
      assertTrue(Internal.push(cq, success(14, report), false));
      done.expectMessage(10L);
      return done.expectMessage(14L);
    });
    LoggingTestKit.warn("has no Cqe").withOccurrences(0).expect(kit.system(), () -> {
      assertTrue(Internal.push(cq, success(20), false));
      assertTrue(Internal.push(cq, success(21, report), false));
      return done.expectMessage(21L);
    });
    assertTrue(Internal.push(cq, success(99, report), false));
    done.expectMessage(99L); // the next message is the marker's: nothing else was delivered before it
    assertEquals(0, cq.peek(), "the skipped completions were consumed");
  }

  @Test
  @DisplayName("ACTOR (7.2): a done callback that throws (unchecked or checked) is logged and does not stop the "
      + "others")
  void throwingDoneIsLoggedAndOthersStillRun() {
    CompletionQueue cq = await(device.allocCq(64, PollContext.ACTOR));
    TestProbe<Long> done = kit.createTestProbe();
    Cqe report = (c, wc) -> done.getRef().tell(wc.wrId());
    Cqe throwsUnchecked = (c, wc) -> {
      done.getRef().tell(wc.wrId());
      throw new IllegalStateException("boom in done");
    };
    Cqe throwsChecked = (c, wc) -> {
      done.getRef().tell(wc.wrId());
      throw EventFixtures.sneakyThrow(new IOException("checked boom in done"));
    };
    LoggingTestKit.error("done callback of wr_id 3 threw").withCause(IllegalStateException.class)
        .withMdc(Map.of("midlayer.device", device.name())).expect(
        kit.system(), () -> LoggingTestKit.error("done callback of wr_id 6 threw").withCause(IOException.class)
            .expect(kit.system(), () -> {
              for (long i = 1; i <= 8; i++) {
                Cqe cqe = i == 3 ? throwsUnchecked : i == 6 ? throwsChecked : report;
                assertTrue(Internal.push(cq, success(i, cqe), false));
              }
              for (long i = 1; i <= 8; i++) {
                done.expectMessage(i);
              }
              return null;
            }));
    assertTrue(Internal.push(cq, success(9, report), false));
    done.expectMessage(9L); // and nothing came between 8 and 9: no callback ran twice after a throw
  }

  // ---- DIRECT ----

  @Test
  @DisplayName("DIRECT (7.2): never polled by the midlayer; processDirect(budget) calls done for up to budget "
      + "completions in the caller's thread, in order, and returns the count")
  void processDirectCallsDoneInTheCallersThreadUpToTheBudget() {
    CompletionQueue cq = await(device.allocCq(64, PollContext.DIRECT));
    List<Long> order = Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    Cqe record = (c, wc) -> {
      assertSame(cq, c);
      order.add(wc.wrId());
      threads.add(Thread.currentThread());
    };
    for (long i = 0; i < 20; i++) {
      assertTrue(Internal.push(cq, i == 15 ? failed(i, record, WcStatus.REM_ACCESS_ERR) : success(i, record), i % 2 == 0));
    }
    assertTrue(order.isEmpty(), "push ran done callbacks in the pusher's call chain: " + order);
    assertEquals(20, cq.peek());

    assertEquals(0, cq.processDirect(0));
    assertEquals(20, cq.peek());
    assertEquals(8, cq.processDirect(8));
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L), order);
    assertEquals(12, cq.peek());
    assertEquals(12, cq.processDirect(100));
    assertEquals(20, order.size());
    for (int i = 0; i < 20; i++) {
      assertEquals((long) i, order.get(i));
    }
    assertEquals(0, cq.processDirect(5), "empty CQ");
    // Without a Cqe: consumed and counted, nothing to call.
    assertTrue(Internal.push(cq, success(30), false));
    assertTrue(Internal.push(cq, success(31, record), false));
    assertEquals(2, cq.processDirect(10));
    assertEquals(31L, order.get(order.size() - 1));
    assertEquals(21, order.size());

    // Never polled by the midlayer, shown with a fence instead of a quiet period. Only the CQ's actor could
    // poll it, and that actor takes its mailbox in order: fill the CQ and overflow it; by the time the actor
    // logs the overflow, it has handled whatever every push before told it, and still nothing was taken.
    int cap = cq.capacity();
    for (long i = 0; i < cap; i++) {
      assertTrue(Internal.push(cq, success(100 + i, record), i % 2 == 0));
    }
    LoggingTestKit.error("CQ #" + cq.number() + " on " + device.name() + " overflowed").expect(kit.system(), () -> {
      assertFalse(Internal.push(cq, success(100 + cap, record), true),
          "the push beyond capacity overflows: nothing took a completion out of the DIRECT CQ");
      return null;
    });
    assertEquals(cap, cq.peek(), "a DIRECT CQ is never polled by the midlayer");
    List<Long> expected = new ArrayList<>();
    for (long i = 0; i < 20; i++) {
      expected.add(i);
    }
    expected.add(31L);
    assertEquals(expected, order, "done calls, all made by processDirect");
    for (Thread t : threads) {
      assertSame(Thread.currentThread(), t, "done ran on another thread");
    }
  }

  @Test
  @DisplayName("DIRECT (7.2): a done callback that throws loses no completion: each done is called exactly once "
      + "and the others are all processed")
  void processDirectWithAThrowingDoneLosesNothing() {
    CompletionQueue cq = await(device.allocCq(64, PollContext.DIRECT));
    AtomicIntegerArray calls = new AtomicIntegerArray(10);
    Cqe cqe = (c, wc) -> {
      calls.incrementAndGet((int) wc.wrId());
      if (wc.wrId() == 3 || wc.wrId() == 7) {
        throw new IllegalStateException("boom in done " + wc.wrId());
      }
    };
    for (int i = 0; i < 10; i++) {
      assertTrue(Internal.push(cq, success(i, cqe), false));
    }
    // Whether processDirect swallows the exception or passes it on to its caller, calling it until the
    // CQ is empty must reach every completion once.
    int rounds = 0;
    while (cq.peek() > 0 && rounds++ < 20) {
      try {
        cq.processDirect(100);
      } catch (IllegalStateException expected) {
        // passed on to the caller
      }
    }
    for (int i = 0; i < 10; i++) {
      assertEquals(1, calls.get(i), "done calls for wrId " + i);
    }
    assertEquals(0, cq.peek());
  }

  @Test
  @DisplayName("DIRECT (7.2): a done callback that throws an unchecked exception does not stop processDirect; it "
      + "processes the others and returns the full count")
  void processDirectContinuesPastAThrowingDone() {
    assertProcessDirectContinuesPast(new IllegalStateException("boom in done"));
  }

  @Test
  @DisplayName("DIRECT (7.2): a done callback that throws a checked exception does not stop processDirect; it "
      + "processes the others and returns the full count")
  void processDirectContinuesPastADoneThrowingACheckedException() {
    assertProcessDirectContinuesPast(new IOException("checked boom in done"));
  }

  private void assertProcessDirectContinuesPast(Throwable thrown) {
    CompletionQueue cq = await(device.allocCq(64, PollContext.DIRECT));
    AtomicIntegerArray calls = new AtomicIntegerArray(10);
    Cqe cqe = (c, wc) -> {
      calls.incrementAndGet((int) wc.wrId());
      if (wc.wrId() == 3) {
        throw EventFixtures.sneakyThrow(thrown);
      }
    };
    for (int i = 0; i < 10; i++) {
      assertTrue(Internal.push(cq, success(i, cqe), false));
    }
    int n = cq.processDirect(100);
    assertEquals(10, n);
    for (int i = 0; i < 10; i++) {
      assertEquals(1, calls.get(i), "done calls for wrId " + i);
    }
    assertEquals(0, cq.peek());
  }

}
