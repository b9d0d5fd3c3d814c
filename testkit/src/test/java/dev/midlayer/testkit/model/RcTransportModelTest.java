package dev.midlayer.testkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.Await;
import dev.midlayer.testkit.ConnectedPair;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A seeded random model of one RC connection under random faults: random SENDs (sizes 8 B to 1 KiB, some
 * inline), RDMA WRITEs and READs against a byte-array model of the responder's region, with the fabric dropping,
 * duplicating, reordering and delaying packets at seeded rates; then either a clean end or a move to ERR with
 * work in flight, and a reconnect through RESET. After every step it checks what IB promises: every message
 * arrives exactly once, in order, with its bytes; every WR completes exactly once, in posting order; a READ
 * returns what the model says the region held; after ERR the outstanding WRs are a SUCCESS prefix and a
 * WR_FLUSH_ERR suffix; each modify leaves the QP in the state asked for. The kit's monitor checks the rest (the
 * exactly-once ledger, deferral, one handler per CQ) at the end of each iteration.
 */
class RcTransportModelTest {
  private static final int SLOTS = 16;
  private static final int SLOT = 2048;
  private static final int TARGET = 32 * 1024;
  private static final int RECVS = 32;
  private static final int RECV_SLOT = 1024;
  private static final QpConnect.Params RELIABLE = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);

  @RegisterExtension
  final Seeds seeds = new Seeds();

  /** One posted send-queue WR and what the model expects of it. */
  private record Posted(long wrId, WrOpcode op, int slot, int seq, int targetOff, byte[] expectRead) {}

  private static byte pattern(long seed, int seq, int i) {
    return (byte) (seed * 31 + seq * 131 + i * 7 + (i >>> 8));
  }

  @Test
  @DisplayName("RC under seeded faults: exactly once, in order, bytes and reads as the model says, flush on ERR")
  void rcUnderRandomFaults() {
    Random random = seeds.random();
    for (int it = 0; it < ModelBudget.iterations(5); it++) {
      iteration(it, random.nextLong());
    }
  }

  private void iteration(int it, long seed) {
    Random r = new Random(seed);
    String where = "iteration " + it + " (iteration seed " + seed + ")";
    MidlayerTestKit kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    try (ConnectedPair p = ConnectedPair.rc(kit).cap(new QpCap(SLOTS, RECVS + 1, 2, 1, 64)).cqEntries(256)
        .buffer(64 * 1024, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ)
        .params(RELIABLE).build()) {
      double drop = r.nextDouble() * 0.06;
      double dup = r.nextDouble() * 0.06;
      double reorder = r.nextDouble() * 0.06;
      double delay = r.nextDouble() * 0.06;
      kit.fabric().faults(FaultPlan.builder(r.nextLong())
          .drop(FaultPlan.Match.any(), drop)
          .duplicate(FaultPlan.Match.any(), dup)
          .reorder(FaultPlan.Match.any(), reorder)
          .delay(FaultPlan.Match.any(), delay, Duration.ofMillis(1 + r.nextInt(20)))
          .build());
      where += String.format(" faults drop %.3f dup %.3f reorder %.3f delay %.3f", drop, dup, reorder, delay);
      new Run(p, r, seed, where).run();
      kit.fabric().clearFaults();
    } finally {
      kit.shutdown(); // the monitor's verdict: exactly once, deferral, one handler per CQ, ...
    }
  }

  /** One iteration's state: the model of the responder's region, what is in flight, what has arrived. */
  private static final class Run {
    final ConnectedPair p;
    final Random r;
    final long seed;
    final String where;
    final MemoryRegion src;
    final MemoryRegion dst;
    final byte[] model = new byte[TARGET];
    final ArrayDeque<Posted> inFlight = new ArrayDeque<>();
    final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();
    int nextSeq;
    int expectSeq;
    long nextWrId = 1;
    int step;

    Run(ConnectedPair p, Random r, long seed, String where) {
      this.p = p;
      this.r = r;
      this.seed = seed;
      this.where = where;
      this.src = p.a().mr();
      this.dst = p.b().mr();
      for (int s = 0; s < SLOTS; s++) {
        freeSlots.add(s);
      }
      ByteBuffer b = dst.buffer();
      for (int i = 0; i < TARGET; i++) {
        model[i] = (byte) i;
        b.put(TARGET + i, (byte) i);
      }
    }

    String at(String what) {
      return where + ", step " + step + ": " + what;
    }

    void run() {
      for (int i = 0; i < RECVS; i++) {
        postRecv(i);
      }
      int steps = 80 + r.nextInt(200);
      for (step = 0; step < steps; step++) {
        if (freeSlots.isEmpty()) {
          pollSends(1);
        }
        int pick = r.nextInt(10);
        if (pick < 5 && nextSeq - expectSeq < RECVS) {
          postSend();
        } else if (pick < 8) {
          postWrite();
        } else {
          postRead();
        }
        pollSends(0);
        pollRecvs(0);
      }
      if (r.nextBoolean()) {
        cleanEnd();
      } else {
        errorEnd();
      }
    }

    void postRecv(int slot) {
      p.b().qp().postRecv(RecvWr.of(slot, Sge.of(dst, (long) slot * RECV_SLOT, RECV_SLOT)));
    }

    void postSend() {
      int slot = freeSlots.poll();
      int len = 8 + r.nextInt(RECV_SLOT - 7);
      int seq = nextSeq++;
      ByteBuffer b = src.buffer();
      b.putInt(slot * SLOT, seq);
      for (int i = 4; i < len; i++) {
        b.put(slot * SLOT + i, pattern(seed, seq, i));
      }
      int flags = SendFlags.SIGNALED | (len <= 64 && r.nextBoolean() ? SendFlags.INLINE : 0);
      long id = nextWrId++;
      p.a().qp().postSend(SendWr.send(id, flags, Sge.of(src, (long) slot * SLOT, len)));
      inFlight.add(new Posted(id, WrOpcode.SEND, slot, seq, -1, null));
    }

    void postWrite() {
      int slot = freeSlots.poll();
      int len = 1 + r.nextInt(SLOT);
      int off = r.nextInt(TARGET - len + 1);
      ByteBuffer b = src.buffer();
      for (int i = 0; i < len; i++) {
        byte v = (byte) r.nextInt();
        b.put(slot * SLOT + i, v);
        model[off + i] = v; // RC executes in posting order: later reads see it
      }
      long id = nextWrId++;
      p.a().qp().postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(id).flags(SendFlags.SIGNALED)
          .sge(Sge.of(src, (long) slot * SLOT, len)).remote(dst.iova() + TARGET + off, dst.rkey()).build());
      inFlight.add(new Posted(id, WrOpcode.RDMA_WRITE, slot, -1, off, null));
    }

    void postRead() {
      int slot = freeSlots.poll();
      int len = 1 + r.nextInt(SLOT);
      int off = r.nextInt(TARGET - len + 1);
      long id = nextWrId++;
      p.a().qp().postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(id).flags(SendFlags.SIGNALED)
          .sge(Sge.of(src, 32 * 1024 + (long) slot * SLOT, len)).remote(dst.iova() + TARGET + off, dst.rkey())
          .build());
      inFlight.add(new Posted(id, WrOpcode.RDMA_READ, slot, -1, off, Arrays.copyOfRange(model, off, off + len)));
    }

    /** Polls the requester's CQ; waits for at least {@code atLeast} completions. */
    void pollSends(int atLeast) {
      List<WorkCompletion> got = poll(p.a().cq(), atLeast);
      for (WorkCompletion wc : got) {
        Posted w = inFlight.poll();
        if (w == null) {
          fail(at("a completion with nothing in flight: " + wc));
        }
        assertEquals(w.wrId(), wc.wrId(), () -> at("completions in posting order; got " + wc + " for " + w));
        assertEquals(WcStatus.SUCCESS, wc.status(), () -> at(w + " completed with " + wc));
        if (w.op() == WrOpcode.RDMA_READ) {
          byte[] read = new byte[w.expectRead().length];
          src.buffer().get(32 * 1024 + w.slot() * SLOT, read);
          if (!Arrays.equals(w.expectRead(), read)) {
            fail(at("READ of " + read.length + " B at " + w.targetOff() + " returned bytes the model did not hold"));
          }
        }
        freeSlots.add(w.slot());
      }
    }

    /** Polls the responder's CQ; checks each message's sequence number and bytes, then reposts its receive. */
    void pollRecvs(int atLeast) {
      for (WorkCompletion wc : poll(p.b().cq(), atLeast)) {
        assertEquals(WcStatus.SUCCESS, wc.status(), () -> at("receive " + wc));
        assertEquals(WcOpcode.RECV, wc.opcode(), () -> at("receive " + wc));
        int slot = (int) wc.wrId();
        ByteBuffer b = dst.buffer();
        int seq = b.getInt(slot * RECV_SLOT);
        int want = expectSeq;
        assertEquals(want, seq, () -> at("messages arrive exactly once and in order: expected #" + want
            + ", got #" + seq));
        for (int i = 4; i < wc.byteLen(); i++) {
          if (b.get(slot * RECV_SLOT + i) != pattern(seed, seq, i)) {
            fail(at("message #" + seq + " byte " + i + " differs from what was sent"));
          }
        }
        expectSeq++;
        postRecv(slot);
      }
    }

    static List<WorkCompletion> poll(CompletionQueue cq, int atLeast) {
      List<WorkCompletion> got = new ArrayList<>();
      WorkCompletion[] batch = new WorkCompletion[16];
      int n = cq.poll(batch);
      for (int i = 0; i < n; i++) {
        got.add(batch[i]);
      }
      if (got.size() < atLeast) {
        Await.eventually(() -> {
          int k = cq.poll(batch);
          for (int i = 0; i < k; i++) {
            got.add(batch[i]);
          }
          assertTrue(got.size() >= atLeast, () -> "waiting for " + atLeast + " completions on " + cq);
        });
      }
      return got;
    }

    void cleanEnd() {
      while (!inFlight.isEmpty()) {
        pollSends(1);
      }
      while (expectSeq < nextSeq) {
        pollRecvs(1);
      }
      byte[] target = new byte[TARGET];
      dst.buffer().get(TARGET, target);
      for (int i = 0; i < TARGET; i++) {
        if (target[i] != model[i]) {
          fail(at("the responder's region differs from the model at byte " + i));
        }
      }
    }

    /** ERR with work in flight: a SUCCESS prefix, a WR_FLUSH_ERR suffix; then RESET and a reconnect. */
    void errorEnd() {
      int extra = r.nextInt(freeSlots.size() + 1);
      for (int i = 0; i < extra && nextSeq - expectSeq < RECVS; i++) {
        postSend();
      }
      modify(p.a(), QpState.ERR);
      boolean flushing = false;
      while (!inFlight.isEmpty()) {
        for (WorkCompletion wc : poll(p.a().cq(), 1)) {
          Posted w = inFlight.poll();
          assertEquals(w.wrId(), wc.wrId(), () -> at("after ERR, completions in posting order: " + wc));
          if (wc.status() == WcStatus.WR_FLUSH_ERR) {
            flushing = true;
          } else {
            assertTrue(!flushing && wc.status() == WcStatus.SUCCESS,
                () -> at("after ERR: a SUCCESS prefix then flushes only, got " + wc));
          }
          freeSlots.add(w.slot());
        }
      }
      pollRecvs(0); // delivered before the ERR: in order, exactly once (a flushed send may have arrived)
      modify(p.b(), QpState.ERR);
      for (int outstanding = RECVS; outstanding > 0; ) { // every posted receive ends once: arrived or flushed
        for (WorkCompletion wc : poll(p.b().cq(), 1)) {
          outstanding--;
          if (wc.status() == WcStatus.SUCCESS) {
            int seq = dst.buffer().getInt((int) wc.wrId() * RECV_SLOT);
            int want = expectSeq;
            assertEquals(want, seq, () -> at("a late arrival is still the next in order"));
            expectSeq++;
          } else {
            assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), () -> at("the responder's receives flush: " + wc));
          }
        }
      }
      modify(p.a(), QpState.RESET);
      modify(p.b(), QpState.RESET);
      int psnA = r.nextInt(1 << 24);
      int psnB = r.nextInt(1 << 24);
      MidlayerTestKit.await(QpConnect.connect(p.a().qp(), dev.midlayer.ib.AhAttr.ofLid(1, p.b().device().lid(1)),
          p.b().qp().qpNum(), psnA, psnB, RELIABLE));
      MidlayerTestKit.await(QpConnect.connect(p.b().qp(), dev.midlayer.ib.AhAttr.ofLid(1, p.a().device().lid(1)),
          p.a().qp().qpNum(), psnB, psnA, RELIABLE));
      assertEquals(QpState.RTS, p.a().qp().query().qpState(), () -> at("reconnected"));
      assertEquals(QpState.RTS, p.b().qp().query().qpState(), () -> at("reconnected"));
      for (int i = 0; i < RECVS; i++) {
        postRecv(i);
      }
      expectSeq = nextSeq; // the new connection starts afresh
      postSend();
      pollSends(1);
      pollRecvs(1);
    }

    void modify(ConnectedPair.Side side, QpState to) {
      MidlayerTestKit.await(side.qp().modify(QpAttr.builder().qpState(to).build(), QpAttrMask.STATE));
      assertEquals(to, side.qp().query().qpState(), () -> at("after modify to " + to));
    }
  }
}
