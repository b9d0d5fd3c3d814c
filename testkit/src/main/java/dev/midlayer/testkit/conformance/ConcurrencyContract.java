package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.backOff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Concurrency on the data path and the seed's callback rules (core_locking: reentrant verbs, no callback
 * from a verb's call chain, one completion handler per CQ at a time, the lost-wakeup-free idiom). Hot-unplug
 * under traffic is {@link HotUnplugContract}.
 *
 * <p>Seed rules: C1/C2 (the nine non-sleeping verbs called from several threads at once), C5 (driver methods
 * are reentrant: N threads posting and polling), C6 (no serialisation on the data path), C7 (concurrent
 * poll_cq), C8 (no completion callback from a verb's own call chain), C9 (one handler per CQ at a time),
 * C10 (a callback's context is undefined: it runs in atomic context). IB spec: IBA vol. 1 §11.4.2 (poll CQ,
 * request notification).
 */
public abstract class ConcurrencyContract extends DriverContract {
  /** More data-path threads than the default on 2 cores, so that QP actors really run in parallel (CQ actors run on the callback dispatcher, 2 threads or more). */
  static final Config PARALLEL = ConfigFactory.parseString("midlayer.data-path-dispatcher.prestarted-fork-join "
      + "{ parallelism-min = 4, parallelism-max = 4 }");

  @Test
  @DisplayName("exactly once: 4 threads post sends on one QP, 4 threads poll the one CQ and re-post receives; every WR completes once")
  void exactlyOnceWithConcurrentPostersAndPollers() throws Exception {
    restart(PARALLEL);
    int posters = 4;
    int perPoster = 1000;
    int n = posters * perPoster;
    // Both QPs on one device and one CQ for everything: send completions of A, receive completions of B.
    ConformanceFixture.Side a = f.side(2 * n + 64, 1 << 16, null);
    ConformanceFixture.Side b = new ConformanceFixture.Side(a.dev, a.pd, a.cq, a.mr);
    QueuePair qa = ConformanceFixture.createQp(a, QpType.RC, new QpCap(128, 16, 1, 1, 0), true);
    QueuePair qb = ConformanceFixture.createQp(b, QpType.RC, new QpCap(16, 512, 1, 1, 0), true);
    ConformanceFixture.connect(a, b);
    AtomicIntegerArray sendSeen = new AtomicIntegerArray(n);
    AtomicIntegerArray recvSeen = new AtomicIntegerArray(n);
    AtomicInteger recvsPosted = new AtomicInteger();
    AtomicInteger completions = new AtomicInteger();
    long recvBase = 1L << 32;
    for (int i = 0; i < 256; i++) {
      int k = recvsPosted.getAndIncrement();
      qb.postRecv(RecvWr.of(recvBase + k, Sge.of(b.mr, 32768 + 64L * (k % 256), 64)));
    }
    Workers w = new Workers();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * ConformanceFixture.DEADLINE_MS);
    for (int t = 0; t < posters; t++) {
      int base = t * perPoster;
      w.start("poster-" + t, () -> {
        for (int i = 0; i < perPoster && !w.aborted(); i++) {
          Workers.postSendRetrying(qa, SendWr.send(base + i, 0, Sge.of(a.mr, 8L * (base + i) % 4096, 8)), w, end);
        }
      });
    }
    for (int t = 0; t < 4; t++) {
      w.start("poller-" + t, () -> {
        WorkCompletion[] batch = new WorkCompletion[8];
        int spins = 0;
        while (completions.get() < 2 * n && !w.aborted()) {
          int k = a.cq.poll(batch);
          for (int i = 0; i < k; i++) {
            WorkCompletion wc = batch[i];
            if (wc.status() != WcStatus.SUCCESS) {
              throw new AssertionError("unexpected " + wc);
            }
            if (wc.wrId() >= recvBase) {
              int id = (int) (wc.wrId() - recvBase);
              if (recvSeen.getAndIncrement(id) != 0) {
                throw new AssertionError("receive " + id + " completed twice");
              }
              int next = recvsPosted.getAndIncrement();
              if (next < n) { // keep B's receive queue stocked, from several threads at once
                qb.postRecv(RecvWr.of(recvBase + next, Sge.of(b.mr, 32768 + 64L * (next % 256), 64)));
              }
            } else if (sendSeen.getAndIncrement((int) wc.wrId()) != 0) {
              throw new AssertionError("send " + wc.wrId() + " completed twice");
            }
            completions.incrementAndGet();
          }
          if (k > 0) {
            spins = 0;
          } else if (System.nanoTime() > end) {
            throw new AssertionError("only " + completions.get() + " of " + 2 * n + " completions arrived");
          } else {
            backOff(spins++);
          }
        }
      });
    }
    w.join();
    assertEquals(2 * n, completions.get());
    for (int i = 0; i < n; i++) {
      assertEquals(1, sendSeen.get(i), "send " + i);
      assertEquals(1, recvSeen.get(i), "receive " + i);
    }
    ConformanceFixture.assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("one completion handler at a time: 8 QPs complete into one CQ; the re-arming handler never overlaps itself")
  void oneHandlerAtATime() throws Exception {
    restart(PARALLEL);
    int qps = 8;
    int perQp = 300;
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger handled = new AtomicInteger();
    ConcurrentHashMap<Integer, List<Long>> perQpOrder = new ConcurrentHashMap<>();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    WorkCompletion[] batch = new WorkCompletion[16];
    ConformanceFixture.Side a = f.side(qps * perQp + 64, 4096, cq -> {
      calls.incrementAndGet();
      if (inside.incrementAndGet() != 1) {
        overlaps.incrementAndGet();
      }
      if (!AtomicContext.isAtomic()) {
        problems.add("the handler does not run in atomic context");
      }
      do {
        int k;
        while ((k = cq.poll(batch)) > 0) {
          for (int i = 0; i < k; i++) {
            WorkCompletion wc = batch[i];
            if (wc.status() != WcStatus.SUCCESS) {
              problems.add("unexpected " + wc);
            }
            perQpOrder.computeIfAbsent(wc.qpNum(), q -> new ArrayList<>()).add(wc.wrId());
            handled.incrementAndGet();
          }
          for (int spin = 0; spin < 200; spin++) {
            Thread.onSpinWait(); // a little work inside, to widen any window for a second handler
          }
        }
      } while (cq.requestNotify(CqNotify.NEXT_COMP, true));
      inside.decrementAndGet();
    });
    ConformanceFixture.Side b = f.side(qps * perQp + 64, 1 << 16, null);
    QpCap cap = new QpCap(64, perQp, 1, 1, 0);
    List<QueuePair> senders = new ArrayList<>();
    for (int q = 0; q < qps; q++) {
      ConformanceFixture.Side sa = new ConformanceFixture.Side(a.dev, a.pd, a.cq, a.mr);
      ConformanceFixture.Side sb = new ConformanceFixture.Side(b.dev, b.pd, b.cq, b.mr);
      ConformanceFixture.createQp(sa, QpType.RC, cap, true);
      ConformanceFixture.createQp(sb, QpType.RC, cap, true);
      ConformanceFixture.connect(sa, sb);
      for (int i = 0; i < perQp; i++) {
        sb.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 64L * q, 64)));
      }
      senders.add(sa.qp);
    }
    a.cq.requestNotify(CqNotify.NEXT_COMP, false);
    Workers w = new Workers();
    long end = Workers.deadline();
    for (int t = 0; t < 2; t++) {
      List<QueuePair> mine = senders.subList(t * qps / 2, (t + 1) * qps / 2);
      w.start("poster-" + t, () -> {
        for (int i = 0; i < perQp; i++) {
          for (QueuePair qp : mine) {
            Workers.postSendRetrying(qp, SendWr.send(i, 0, Sge.of(a.mr, 0, 8)), w, end);
          }
        }
      });
    }
    w.join();
    awaitTrue(() -> "the handler to see all " + qps * perQp + " completions (saw " + handled.get() + ", "
        + a.cq.peek() + " waiting)", () -> handled.get() == qps * perQp);
    assertEquals(0, overlaps.get(), "the completion handler ran concurrently with itself (" + calls.get()
        + " calls)");
    assertTrue(problems.isEmpty(), problems::toString);
    List<Long> expected = java.util.stream.LongStream.range(0, perQp).boxed().toList();
    for (QueuePair qp : senders) {
      assertEquals(expected, perQpOrder.get(qp.qpNum()), "completions of " + qp + " in posting order, once each");
    }
    ConformanceFixture.poll(b.cq, qps * perQp).forEach(ConformanceFixture::assertOk);
  }

  private static final ThreadLocal<String> IN_POST = new ThreadLocal<>();

  @Test
  @DisplayName("no callback inside a post: handlers never run in postSend/postRecv's call chain, also when posting from handlers")
  void noCallbackInsidePost() throws Exception {
    int rounds = 500;
    AtomicInteger violations = new AtomicInteger();
    AtomicInteger sendsDone = new AtomicInteger();
    AtomicInteger recvsDone = new AtomicInteger();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    ConformanceFixture.Side[] sides = new ConformanceFixture.Side[2];
    // A's handler: for each send completion, posts the next send (marked) until `rounds` are done.
    ConformanceFixture.Side a = f.side(64, 4096, cq -> {
      if (IN_POST.get() != null) {
        violations.incrementAndGet();
      }
      do {
        WorkCompletion wc;
        while ((wc = cq.poll()) != null) {
          if (wc.status() != WcStatus.SUCCESS) {
            problems.add("A: " + wc);
            continue;
          }
          int done = sendsDone.incrementAndGet();
          if (done < rounds) {
            markedPostSend(sides[0].qp, SendWr.send(done, 0, Sge.of(sides[0].mr, 0, 8)), problems);
          }
        }
      } while (cq.requestNotify(CqNotify.NEXT_COMP, true));
    });
    // B's handler: for each receive completion, posts a fresh receive (marked).
    ConformanceFixture.Side b = f.side(64, 4096, cq -> {
      if (IN_POST.get() != null) {
        violations.incrementAndGet();
      }
      do {
        WorkCompletion wc;
        while ((wc = cq.poll()) != null) {
          if (wc.status() != WcStatus.SUCCESS) {
            problems.add("B: " + wc);
            continue;
          }
          recvsDone.incrementAndGet();
          markedPostRecv(sides[1].qp, RecvWr.of(wc.wrId() + 1000, Sge.of(sides[1].mr, 0, 64)), problems);
        }
      } while (cq.requestNotify(CqNotify.NEXT_COMP, true));
    });
    sides[0] = a;
    sides[1] = b;
    QpCap cap = new QpCap(8, 8, 1, 1, 0);
    ConformanceFixture.createQp(a, QpType.RC, cap, true);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.connect(a, b);
    for (int i = 0; i < 4; i++) {
      markedPostRecv(b.qp, RecvWr.of(10_000 + i, Sge.of(b.mr, 0, 64)), problems);
    }
    a.cq.requestNotify(CqNotify.NEXT_COMP, false);
    b.cq.requestNotify(CqNotify.NEXT_COMP, false);
    // The first send comes from the test thread, marked too.
    markedPostSend(a.qp, SendWr.send(0, 0, Sge.of(a.mr, 0, 8)), problems);
    awaitTrue(() -> "all " + rounds + " round trips (sends " + sendsDone.get() + ", receives " + recvsDone.get()
        + ", problems " + problems + ")", () -> sendsDone.get() == rounds && recvsDone.get() == rounds);
    assertEquals(0, violations.get(), "a completion handler ran inside a post's call chain");
    assertTrue(problems.isEmpty(), problems::toString);
  }

  private static void markedPostSend(QueuePair qp, SendWr wr, ConcurrentLinkedQueue<String> problems) {
    String outer = IN_POST.get();
    IN_POST.set("postSend");
    try {
      qp.postSend(wr);
    } catch (RuntimeException e) {
      problems.add("postSend: " + e);
    } finally {
      IN_POST.set(outer);
    }
  }

  private static void markedPostRecv(QueuePair qp, RecvWr wr, ConcurrentLinkedQueue<String> problems) {
    String outer = IN_POST.get();
    IN_POST.set("postRecv");
    try {
      qp.postRecv(wr);
    } catch (RuntimeException e) {
      problems.add("postRecv: " + e);
    } finally {
      IN_POST.set(outer);
    }
  }

  @Test
  @DisplayName("the lost-wakeup idiom (poll at most 16, re-arm with report-missed-events, go on while it says so) never strands a completion")
  void lostWakeupIdiomNeverStrands() throws Exception {
    restart(PARALLEL);
    int qps = 4;
    int perQp = 1500;
    int total = qps * perQp;
    AtomicIntegerArray seen = new AtomicIntegerArray(total);
    AtomicInteger handled = new AtomicInteger();
    AtomicInteger wakeups = new AtomicInteger();
    AtomicInteger rounds = new AtomicInteger();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    WorkCompletion[] batch = new WorkCompletion[16];
    ConformanceFixture.Side a = f.side(total + 64, 4096, cq -> {
      wakeups.incrementAndGet();
      do {
        rounds.incrementAndGet();
        int k = cq.poll(batch, 16); // at most 16 per round
        for (int i = 0; i < k; i++) {
          WorkCompletion wc = batch[i];
          if (wc.status() != WcStatus.SUCCESS) {
            problems.add("unexpected " + wc);
          } else if (seen.getAndIncrement((int) wc.wrId()) != 0) {
            problems.add("completed twice: " + wc.wrId());
          }
          handled.incrementAndGet();
        }
      } while (cq.requestNotify(CqNotify.NEXT_COMP, true));
    });
    ConformanceFixture.Side b = f.side(total + 64, 1 << 16, null);
    List<QueuePair> senders = new ArrayList<>();
    QpCap cap = new QpCap(32, perQp, 1, 1, 0);
    for (int q = 0; q < qps; q++) {
      ConformanceFixture.Side sa = new ConformanceFixture.Side(a.dev, a.pd, a.cq, a.mr);
      ConformanceFixture.Side sb = new ConformanceFixture.Side(b.dev, b.pd, b.cq, b.mr);
      ConformanceFixture.createQp(sa, QpType.RC, cap, true);
      ConformanceFixture.createQp(sb, QpType.RC, cap, true);
      ConformanceFixture.connect(sa, sb);
      for (int i = 0; i < perQp; i++) {
        sb.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 64L * q, 64)));
      }
      senders.add(sa.qp);
    }
    a.cq.requestNotify(CqNotify.NEXT_COMP, false);
    Workers w = new Workers();
    long end = Workers.deadline();
    for (int t = 0; t < 2; t++) {
      int tt = t;
      w.start("poster-" + t, () -> {
        // Sustained traffic in bursts of varying size, so that completions keep landing while the handler
        // is between its last poll and its re-arm.
        int[] next = new int[qps];
        int burst = 1;
        boolean more = true;
        while (more && !w.aborted()) {
          more = false;
          for (int q = tt; q < qps; q += 2) {
            for (int k = 0; k < burst && next[q] < perQp; k++, next[q]++) {
              long id = (long) q * perQp + next[q];
              Workers.postSendRetrying(senders.get(q), SendWr.send(id, 0, Sge.of(a.mr, 0, 8)), w, end);
            }
            more |= next[q] < perQp;
          }
          burst = burst % 37 + 1;
        }
      });
    }
    w.join();
    awaitTrue(() -> "the handler to see all " + total + " completions: saw " + handled.get() + ", "
        + a.cq.peek() + " stranded in the CQ", () -> handled.get() == total);
    assertTrue(problems.isEmpty(), problems::toString);
    for (int i = 0; i < total; i++) {
      assertEquals(1, seen.get(i), "send " + i);
    }
    assertTrue(rounds.get() >= wakeups.get());
    assertEquals(total, ConformanceFixture.poll(b.cq, total).size());
  }

  @Test
  @DisplayName("modify to ERR under concurrent posting: every WR completes exactly once, successes before flushes, per poster in order")
  void modifyToErrUnderConcurrentPosting() throws Exception {
    restart(PARALLEL);
    int posters = 2;
    int limit = 1 << 16; // WR ids per poster
    ConformanceFixture.Side a = f.side(1 << 18, 4096, null);
    ConformanceFixture.Side b = f.side(1 << 17, 4096, null);
    QueuePair qa = ConformanceFixture.createQp(a, QpType.RC, new QpCap(64, 64, 1, 1, 0), true);
    QueuePair qb = ConformanceFixture.createQp(b, QpType.RC, new QpCap(16, 1 << 14, 1, 1, 0), true);
    ConformanceFixture.connect(a, b);
    for (int i = 0; i < 1 << 14; i++) {
      qb.postRecv(RecvWr.of(i, Sge.of(b.mr, 0, 64)));
    }
    AtomicLong[] posted = {new AtomicLong(), new AtomicLong(), new AtomicLong()}; // 2 send posters, 1 receive poster
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger successes = new AtomicInteger();
    Workers w = new Workers();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * ConformanceFixture.DEADLINE_MS);
    for (int t = 0; t < posters; t++) {
      int tt = t;
      w.start("send-poster-" + t, () -> {
        int afterErr = 0;
        while (!stop.get() && afterErr < 20 && posted[tt].get() < limit && !w.aborted()) {
          if (qa.state() == QpState.ERR) {
            afterErr++; // keep posting a little while in ERR: those WRs are flushed too
          }
          Workers.postSendRetrying(qa, SendWr.send(((long) tt << 32) | posted[tt].get(), 0, Sge.of(a.mr, 0, 8)), w, end);
          posted[tt].incrementAndGet();
        }
      });
    }
    w.start("recv-poster", () -> {
      int spins = 0;
      while (!stop.get() && qa.state() != QpState.ERR && !w.aborted()) {
        try {
          qa.postRecv(RecvWr.of((2L << 32) | posted[2].get(), Sge.of(a.mr, 0, 8)));
          posted[2].incrementAndGet();
        } catch (PostException e) {
          if (e.reason() != PostException.Reason.QUEUE_FULL) {
            throw e;
          }
          backOff(spins++);
        }
      }
      for (int i = 0; i < 5 && !w.aborted(); ) { // and a few in ERR (the queue frees up as the flush runs)
        try {
          qa.postRecv(RecvWr.of((2L << 32) | posted[2].get(), Sge.of(a.mr, 0, 8)));
          posted[2].incrementAndGet();
          i++;
        } catch (PostException e) {
          if (e.reason() != PostException.Reason.QUEUE_FULL || System.nanoTime() > end) {
            throw e;
          }
          backOff(spins++);
        }
      }
    });
    List<WorkCompletion> wcs = new ArrayList<>();
    w.start("poller", () -> {
      WorkCompletion[] batch = new WorkCompletion[16];
      int spins = 0;
      while (!w.aborted()) {
        int k = a.cq.poll(batch);
        for (int i = 0; i < k; i++) {
          wcs.add(batch[i]);
          if (batch[i].ok()) {
            successes.incrementAndGet();
          }
        }
        if (stop.get() && k == 0 && wcs.size() == posted[0].get() + posted[1].get() + posted[2].get()) {
          return;
        }
        if (k == 0 && System.nanoTime() > end) {
          throw new AssertionError("only " + wcs.size() + " completions");
        }
        backOff(k > 0 ? (spins = 0) : spins++);
      }
    });
    awaitTrue(() -> "traffic (" + successes.get() + " successes)", () -> successes.get() >= 300 || w.aborted());
    await(qa.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
    // The posters stop on their own shortly after seeing ERR; then tell the poller the totals are final.
    for (Thread t : List.copyOf(w.threads.subList(0, posters + 1))) {
      t.join(ConformanceFixture.DEADLINE_MS);
    }
    stop.set(true);
    w.join();

    long total = posted[0].get() + posted[1].get() + posted[2].get();
    assertEquals(total, wcs.size(), "one completion per posted WR");
    java.util.Set<Long> ids = new java.util.HashSet<>();
    long[] lastPerSource = {-1, -1, -1};
    boolean sqFlushSeen = false;
    for (WorkCompletion wc : wcs) {
      assertTrue(ids.add(wc.wrId()), () -> "completed twice: " + wc);
      int src = (int) (wc.wrId() >>> 32);
      long seq = wc.wrId() & 0xFFFFFFFFL;
      assertTrue(seq > lastPerSource[src], () -> "out of posting order for poster " + src + ": " + wc);
      lastPerSource[src] = seq;
      if (src == 2) {
        assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), "receives of A only ever flush");
        continue;
      }
      if (wc.ok()) {
        assertFalse(sqFlushSeen, () -> "a send succeeded after a send was flushed: " + wc);
      } else {
        assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc::toString);
        sqFlushSeen = true;
      }
    }
    assertTrue(sqFlushSeen, "sends were flushed");
    for (int src = 0; src < 3; src++) {
      for (long i = 0; i < posted[src].get(); i++) {
        assertTrue(ids.contains(((long) src << 32) | i), "WR " + i + " of poster " + src + " never completed");
      }
    }
  }
}
