package dev.midlayer.testkit.model;

import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.testkit.Await;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Randomized model of the QP state machine and of what each state does with posts: seeded random walks of
 * modifies (legal ones with the attributes the spec requires, illegal targets, a required attribute left out,
 * an attribute the transition does not allow, a port that does not exist) and posts, on one QP of a random
 * type, against {@link IbStates}. After each modify the model predicts acceptance or a typed refusal
 * ({@link InvalidArgumentException}); a refused modify must change nothing ({@code query()} equal before and
 * after), an accepted one must leave the QP in the target state. Posts are refused ({@code INVALID}) exactly in
 * the states IB forbids them. Per queue, every accepted WR completes at most once, in posting order, SUCCESS
 * before any WR_FLUSH_ERR; after a modify to ERR every outstanding WR is flushed (awaited); a modify to RESET
 * drops what is outstanding without a completion (a WR already completed before the RESET may still show, once
 * and in order).
 *
 * <p>An RC QP here has no peer, so it never starts a send (sends are posted on it only in ERR, where they flush,
 * and in the states that refuse them); UC and UD QPs send to a QP number nobody has (lost, completing SUCCESS).
 */
class QpStateModelTest {
  private static final int CI_ITERATIONS = 150;
  private static final int STEPS = 40;
  private static final QpCap CAP = new QpCap(16, 16, 1, 1, 0);
  private static final int NOBODY = 0xABCDE;
  private static final int QKEY = 0x1234;

  @RegisterExtension
  final Seeds seeds = new Seeds();

  private MidlayerTestKit kit;
  private LoopbackDevice dev;
  /** What the walks did, printed at the end: accepted and refused modifies, refused posts, completions. */
  private final int[] stats = new int[4];

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    dev = kit.addDevice("st%d", 1);
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  /** One posted WR the model expects a completion for, or maybe one (dropped by RESET after it finished). */
  private record Wr(long id, boolean maybe) {}

  /** The model of one work queue. */
  private static final class Queue {
    final String name;
    final ArrayDeque<Wr> outstanding = new ArrayDeque<>();
    /** Since the last RESET, a WR_FLUSH_ERR was seen: no SUCCESS may follow. */
    boolean flushing;

    Queue(String name) {
      this.name = name;
    }

    /** Takes completion {@code wc}: it must be of the oldest WR, or of one of the RESET's maybes before it. */
    void complete(WorkCompletion wc, String step) {
      while (!outstanding.isEmpty() && outstanding.peekFirst().id() != wc.wrId() && outstanding.peekFirst().maybe()) {
        outstanding.removeFirst(); // dropped by the RESET without a completion
      }
      Wr head = outstanding.pollFirst();
      if (head == null || head.id() != wc.wrId()) {
        fail(step + ": " + name + " completed wr_id " + wc.wrId() + " (" + wc.status() + ") but the oldest "
            + "outstanding WR is " + head + ": a duplicate, an unknown WR or out of posting order");
      }
      if (wc.status() == WcStatus.WR_FLUSH_ERR) {
        flushing = !head.maybe() || flushing;
      } else if (wc.status() == WcStatus.SUCCESS) {
        if (flushing && !head.maybe()) {
          fail(step + ": " + name + " wr_id " + wc.wrId() + " completed SUCCESS after a WR_FLUSH_ERR");
        }
      } else {
        fail(step + ": " + name + " wr_id " + wc.wrId() + " completed " + wc + ": no transport error is possible here");
      }
    }

    long definite() {
      return outstanding.stream().filter(w -> !w.maybe()).count();
    }

    void reset() {
      List<Wr> old = new ArrayList<>(outstanding);
      outstanding.clear();
      old.forEach(w -> outstanding.addLast(new Wr(w.id(), true)));
      flushing = false;
    }
  }

  @Test
  @DisplayName("random walks of modifies and posts: the IB state table, typed refusals that change nothing, "
      + "flushes exactly once in order")
  void randomWalks() throws Exception {
    Gen g = new Gen(seeds.seed());
    int iterations = Budget.iterations(CI_ITERATIONS);
    ProtectionDomain pd = MidlayerTestKit.await(dev.device().allocPd());
    MemoryRegion mr = MidlayerTestKit.await(pd.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    AddressHandle ah = pd.createAh(AhAttr.ofLid(1, dev.lid(1)));
    CompletionQueue cq = MidlayerTestKit.await(dev.device().createCq(256, null, null, null));
    for (int it = 0; it < iterations; it++) {
      walk(g, it, pd, mr, ah, cq);
    }
    System.out.printf("[model] QP states: %d iterations, %d modifies accepted, %d refused, %d posts refused, "
        + "%d completions checked%n", iterations, stats[0], stats[1], stats[2], stats[3]);
    ah.destroy();
    MidlayerTestKit.await(cq.destroy());
    MidlayerTestKit.await(mr.deregister());
    MidlayerTestKit.await(pd.dealloc());
  }

  private void walk(Gen g, int it, ProtectionDomain pd, MemoryRegion mr, AddressHandle ah, CompletionQueue cq)
      throws Exception {
    QpType type = g.pick(QpType.RC, QpType.UC, QpType.UD);
    QueuePair qp = MidlayerTestKit.await(pd.createQp(new QpInitAttr(type, cq, cq, CAP, true, null, null)));
    Queue sq = new Queue(type + " QP " + qp.qpNum() + " send queue");
    Queue rq = new Queue(type + " QP " + qp.qpNum() + " receive queue");
    QpState model = QpState.RESET;
    long ids = 1;
    assertEquals(QpState.RESET, qp.query().qpState(), "a new QP is in RESET");
    for (int step = 0; step < STEPS; step++) {
      String at = "iteration " + it + " step " + step + " (" + type + ", model state " + model + ")";
      int op = g.weighted(6, 3, 3);
      if (op == 0) {
        QpState target = g.pick(QpState.values());
        if (g.chance(0.6)) { // mostly legal targets, so that the walk gets somewhere
          final QpState from = model;
          List<QpState> next = java.util.Arrays.stream(QpState.values())
              .filter(s -> IbStates.legal(type, from, s) && (s != QpState.RESET || g.chance(0.3))).toList();
          target = next.isEmpty() ? target : g.pick(next);
        }
        int defect = g.weighted(6, 1, 1, 1); // none, a required bit missing, a forbidden bit, a bad port
        boolean legal = IbStates.legal(type, model, target);
        int required = legal ? IbStates.required(type, model, target) : 0;
        int mask = QpAttrMask.STATE | required;
        int port = 1;
        String what;
        if (defect == 1 && required != 0) {
          int bit = nthBit(required, g.below(Integer.bitCount(required)));
          mask &= ~bit;
          what = "without " + QpAttrMask.names(bit);
        } else if (defect == 2) {
          int bit = IbStates.forbiddenBit(type, model, target);
          mask |= bit;
          what = "with the forbidden " + QpAttrMask.names(bit);
        } else if (defect == 3 && (required & QpAttrMask.PORT) != 0) {
          port = 2;
          what = "to port 2 of a one-port device";
        } else {
          defect = 0;
          what = "with the required attributes";
        }
        boolean accept = legal && defect == 0;
        QpAttr attr = attributes(type, target, port, qp.qpNum());
        QpAttr before = qp.query();
        String opText = at + ": modify " + model + " -> " + target + " " + what;
        if (accept) {
          MidlayerTestKit.await(qp.modify(attr, mask));
          stats[0]++;
          assertEquals(target, qp.state(), opText + ": state()");
          assertEquals(target, qp.query().qpState(), opText + ": query().qpState()");
          if (target == QpState.INIT && model == QpState.RESET) {
            assertEquals(1, qp.query().portNum(), opText + ": the port is set");
          }
          if (target == QpState.RTR && model == QpState.INIT && type != QpType.UD) {
            assertEquals(NOBODY, qp.query().destQpNum(), opText + ": the remote QP number is set");
          }
          model = target;
          if (target == QpState.RESET) {
            sq.reset();
            rq.reset();
          } else if (target == QpState.ERR) {
            drain(cq, sq, rq, opText);
          }
        } else {
          try {
            Await.failure(MidlayerTestKit.DEFAULT_TIMEOUT, qp.modify(attr, mask), InvalidArgumentException.class);
          } catch (AssertionError e) {
            throw new AssertionError(opText + ": expected a refusal: " + e.getMessage(), e);
          }
          stats[1]++;
          assertEquals(model, qp.state(), opText + ": a refused modify changes no state");
          assertEquals(before, qp.query(), opText + ": a refused modify changes no attribute");
        }
      } else if (op == 1) {
        boolean allowed = IbStates.recvAllowed(model);
        long id = ids++;
        String opText = at + ": post receive " + id;
        if (rq.definite() >= CAP.maxRecvWr()) {
          continue;
        }
        post(() -> qp.postRecv(RecvWr.of(id, Sge.of(mr, 0, 64))), allowed, opText);
        if (allowed) {
          rq.outstanding.addLast(new Wr(id, false));
        }
      } else {
        // RC sends only where they cannot start: refused, or flushed in ERR
        boolean allowed = IbStates.sendAllowed(model);
        if (type == QpType.RC && allowed && model != QpState.ERR) {
          continue;
        }
        if (sq.definite() >= CAP.maxSendWr()) {
          continue;
        }
        long id = ids++;
        int len = g.pick(0, 1, 8, 64);
        SendWr wr = type == QpType.UD ? SendWr.udSend(id, 0, ah, NOBODY, QKEY, Sge.of(mr, 64, len))
            : SendWr.send(id, 0, Sge.of(mr, 64, len));
        post(() -> qp.postSend(wr), allowed, at + ": post send " + id);
        if (allowed) {
          sq.outstanding.addLast(new Wr(id, false));
        }
      }
      pollAll(cq, sq, rq, at);
      if (model == QpState.ERR) {
        drain(cq, sq, rq, at + ": in ERR everything posted is flushed");
      }
    }
    // Leave it as a consumer should: ERR, every WR flushed, then destroy.
    if (model != QpState.RESET) {
      MidlayerTestKit.await(qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
      drain(cq, sq, rq, "iteration " + it + " end: ERR before destroy");
    }
    MidlayerTestKit.await(qp.destroy());
    pollAll(cq, sq, rq, "iteration " + it + " after destroy");
  }

  /** The attributes a transition to {@code target} might need, all valid (but {@code port}). */
  private QpAttr attributes(QpType type, QpState target, int port, int qpn) {
    return QpAttr.builder().qpState(target).pkeyIndex(0).portNum(port).qkey(QKEY)
        .accessFlags(AccessFlags.REMOTE_WRITE).ahAttr(AhAttr.ofLid(1, dev.lid(1))).pathMtu(Mtu.MTU_1024)
        .destQpNum(NOBODY).rqPsn(0x10).maxDestRdAtomic(4).minRnrTimer(1).sqPsn(0x20).timeout(14).retryCnt(7)
        .rnrRetry(7).maxRdAtomic(4).build();
  }

  private void post(Runnable post, boolean allowed, String what) {
    try {
      post.run();
      if (!allowed) {
        fail(what + ": accepted, but IB refuses it in this state");
      }
    } catch (PostException e) {
      if (allowed) {
        fail(what + ": refused (" + e.getMessage() + "), but IB allows it in this state", e);
      }
      stats[2]++;
      assertEquals(PostException.Reason.INVALID, e.reason(), what + ": refused for the state: " + e.getMessage());
      assertEquals(0, e.badIndex(), what);
    }
  }

  private void pollAll(CompletionQueue cq, Queue sq, Queue rq, String at) {
    WorkCompletion[] batch = new WorkCompletion[16];
    int k;
    while ((k = cq.poll(batch)) > 0) {
      for (int i = 0; i < k; i++) {
        (isRecv(batch[i], rq) ? rq : sq).complete(batch[i], at);
        stats[3]++;
      }
    }
  }

  /** Which queue a completion is of: WR ids are unique over both queues of a QP. */
  private static boolean isRecv(WorkCompletion wc, Queue rq) {
    return rq.outstanding.stream().anyMatch(w -> w.id() == wc.wrId());
  }

  /** Waits until every definitely outstanding WR of both queues completed (they must: the QP is in ERR). */
  private void drain(CompletionQueue cq, Queue sq, Queue rq, String at) {
    awaitTrue(() -> at + ": every outstanding WR flushed; still outstanding: " + sq.outstanding + " / "
        + rq.outstanding, () -> {
          pollAll(cq, sq, rq, at);
          return sq.definite() == 0 && rq.definite() == 0;
        });
  }

  /** The {@code n}-th (from 0) set bit of {@code mask}. */
  private static int nthBit(int mask, int n) {
    for (int m = mask, i = 0; m != 0; m &= m - 1, i++) {
      if (i == n) {
        return Integer.lowestOneBit(m);
      }
    }
    throw new IllegalArgumentException(n + " of " + Integer.toBinaryString(mask));
  }

}
