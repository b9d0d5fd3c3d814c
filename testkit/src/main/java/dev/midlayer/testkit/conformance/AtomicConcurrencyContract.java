package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Atomics from 8 threads over 4 RC QP pairs on one 8-byte counter (one responder PD and MR shared by the
 * 4 responder QPs). Two threads share each requester QP and its CQ: whoever polls a completion files it
 * by wr_id, and each thread waits for its own.
 *
 * <p>Seed rules: C5 and C6 (atomics posted from several threads on several QPs at once: driver methods are
 * reentrant and the data path is not serialised, yet each atomic is applied exactly once). IB spec: IBA vol. 1
 * §9.4.5 (ATOMIC), §10.6 (the atomicity guarantee of one HCA).
 */
public abstract class AtomicConcurrencyContract extends DriverContract {
  private static final int PAIRS = 4;
  private static final int THREADS = 8;
  private final List<ConformanceFixture.Side> reqs = new ArrayList<>();
  private MemoryRegion counter;
  private ByteBuffer counterOuter;
  private final Map<Long, WorkCompletion> done = new ConcurrentHashMap<>();

  @BeforeEach
  void start() throws Exception {
    Device reqDev = f.addDevice();
    Device respDev = f.addDevice();
    ProtectionDomain respPd = await(respDev.allocPd());
    OneSidedFixture.Guarded g = OneSidedFixture.guarded(respPd, 64, OneSidedFixture.MR_ALL, 0);
    counter = g.mr;
    counterOuter = g.outer;
    counter.buffer().putLong(0, 0L);
    counter.buffer().putLong(8, 0L);
    for (int i = 0; i < PAIRS; i++) {
      ConformanceFixture.Side a = f.side(reqDev, 1024, 4096, null);
      var cq = await(respDev.createCq(64, null, null, null));
      MemoryRegion mr = await(respPd.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE));
      ConformanceFixture.Side b = new ConformanceFixture.Side(respDev, respPd, cq, mr);
      ConformanceFixture.createQp(a, QpType.RC, OneSidedFixture.CAP, true);
      ConformanceFixture.createQp(b, QpType.RC, OneSidedFixture.CAP, true);
      ConformanceFixture.connect(a, b);
      reqs.add(a);
    }
  }

  private long addr() {
    return counter.iova() + 8;
  }

  /** Waits for the completion of {@code wrId} on {@code s}'s CQ, polling and filing whatever comes. */
  private WorkCompletion awaitWc(ConformanceFixture.Side s, long wrId) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ConformanceFixture.DEADLINE_MS);
    int spins = 0;
    WorkCompletion wc;
    while ((wc = done.remove(wrId)) == null) {
      WorkCompletion got = s.cq.poll();
      if (got != null) {
        done.put(got.wrId(), got);
        spins = 0;
        continue;
      }
      if (System.nanoTime() > deadline) {
        fail("no completion for wr " + wrId + " within " + ConformanceFixture.DEADLINE_MS + " ms");
      }
      ConformanceFixture.backOff(spins++);
    }
    if (wc.status() != WcStatus.SUCCESS) {
      fail("wr " + wrId + " failed: " + wc);
    }
    return wc;
  }

  private void runThreads(ThreadBody body) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        fs.add(pool.submit(() -> {
          body.run(thread, reqs.get(thread % PAIRS));
          return null;
        }));
      }
      for (Future<?> fu : fs) {
        fu.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  interface ThreadBody {
    void run(int thread, ConformanceFixture.Side s) throws Exception;
  }

  @Test
  @DisplayName("8 threads x 4 QP pairs FETCH_AND_ADD 1 on one counter: the final value is exact and the returned originals are 0..n-1 once each")
  void fetchAndAddContention() throws Exception {
    int rounds = 8;
    int perRound = 8;
    long[][] originals = new long[THREADS][rounds * perRound];
    runThreads((t, s) -> {
      for (int r = 0; r < rounds; r++) {
        List<SendWr> wrs = new ArrayList<>();
        for (int k = 0; k < perRound; k++) {
          long wrId = ((long) t << 32) | (r * perRound + k);
          wrs.add(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(wrId)
              .sge(Sge.of(s.mr, (t * perRound + k) * 8L, 8)).remote(addr(), counter.rkey()).atomic(1, 0).build());
        }
        s.qp.postSend(wrs);
        for (int k = 0; k < perRound; k++) {
          awaitWc(s, ((long) t << 32) | (r * perRound + k));
          originals[t][r * perRound + k] = s.mr.buffer().getLong((t * perRound + k) * 8);
        }
      }
    });
    int total = THREADS * rounds * perRound;
    assertEquals(total, counter.buffer().getLong(8), "final counter");
    boolean[] seen = new boolean[total];
    for (long[] row : originals) {
      for (long v : row) {
        if (v < 0 || v >= total || seen[(int) v]) {
          fail("original value " + v + " out of range or returned twice");
        }
        seen[(int) v] = true;
      }
    }
    assertEquals(0L, counter.buffer().getLong(0), "the neighbouring 8 bytes");
    assertGuards();
  }

  @Test
  @DisplayName("8 threads x 4 QP pairs increment one counter with CMP_AND_SWP loops: the final value is exact")
  void casLoopContention() throws Exception {
    int perThread = 25;
    int[] attempts = new int[THREADS];
    runThreads((t, s) -> {
      long expected = 0;
      long seq = 0;
      for (int i = 0; i < perThread; i++) {
        while (true) {
          long wrId = ((long) t << 32) | seq++;
          s.qp.postSend(SendWr.builder(WrOpcode.ATOMIC_CMP_AND_SWP).wrId(wrId).sge(Sge.of(s.mr, t * 8L, 8))
              .remote(addr(), counter.rkey()).atomic(expected, expected + 1).build());
          awaitWc(s, wrId);
          attempts[t]++;
          long original = s.mr.buffer().getLong(t * 8);
          if (original == expected) {
            expected = original + 1;
            break;
          }
          expected = original;
        }
      }
    });
    assertEquals((long) THREADS * perThread, counter.buffer().getLong(8), "final counter");
    assertGuards();
  }

  private void assertGuards() {
    for (int i = 0; i < counterOuter.capacity(); i++) {
      if ((i < OneSidedFixture.GUARD || i >= OneSidedFixture.GUARD + 64)
          && counterOuter.get(i) != OneSidedFixture.GUARD_BYTE) {
        fail("guard byte " + i + " changed");
      }
    }
  }
}
