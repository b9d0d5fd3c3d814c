package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.assertCqEmpty;
import static dev.midlayer.drivers.loopback.DpFixture.assertOk;
import static dev.midlayer.drivers.loopback.DpFixture.await;
import static dev.midlayer.drivers.loopback.DpFixture.awaitTrue;
import static dev.midlayer.drivers.loopback.DpFixture.poll;
import static dev.midlayer.drivers.loopback.DpFixture.pollOne;
import static dev.midlayer.drivers.loopback.DpFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CqNotify;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Modify to ERR (flush everything, in order, signaled or not) and to RESET (drop everything), and back. */
class DpFlushTest {
  private static final QpCap CAP = new QpCap(32, 32, 1, 1, 0);
  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("dp-flush");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private static QpAttr toState(QpState s) {
    return QpAttr.builder().qpState(s).build();
  }

  /**
   * A connected RC pair whose requester A cannot finish anything: B never has a receive and RNR retry is
   * forever, so A's send WRs stay outstanding (in flight and queued) until we change A's state.
   */
  private DpFixture.Side[] stuckPair(boolean signalAllA) throws Exception {
    DpFixture.Side a = f.side(256, 8192, null);
    DpFixture.Side b = f.side(256, 8192, null);
    DpFixture.createQp(a, QpType.RC, CAP, signalAllA);
    DpFixture.createQp(b, QpType.RC, CAP, true);
    DpFixture.connect(a, b, QpConnect.Params.defaults().withRetries(24, 7, 7, 1), DpFixture.RELIABLE);
    return new DpFixture.Side[] {a, b};
  }

  /** Splits completions by the WR id ranges used here: sends below 100, receives from 100. */
  private static List<Long> ids(List<WorkCompletion> wcs, boolean recv) {
    List<Long> out = new ArrayList<>();
    for (WorkCompletion wc : wcs) {
      if ((wc.wrId() >= 100) == recv) {
        out.add(wc.wrId());
      }
    }
    return out;
  }

  @Test
  @DisplayName("modify to ERR flushes every outstanding send and receive with WR_FLUSH_ERR, per queue in posting order, unsignaled included")
  void modifyToErrFlushesEverything() throws Exception {
    DpFixture.Side[] p = stuckPair(false);
    DpFixture.Side a = p[0];
    for (int i = 0; i < 4; i++) {
      a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, 64L * i, 64)));
    }
    a.qp.postSend(SendWr.send(0, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)));
    a.qp.postSend(List.of(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)), SendWr.send(2, 0, Sge.of(a.mr, 0, 8))));
    a.qp.postSend(SendWr.send(3, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)));
    a.qp.postSend(SendWr.send(4, 0, Sge.of(a.mr, 0, 8)));
    DpFixture.assertQuiet(a.cq, 30); // stuck on RNR: nothing completes by itself

    await(a.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    assertEquals(QpState.ERR, a.qp.state());
    List<WorkCompletion> wcs = poll(a.cq, 9);
    wcs.forEach(wc -> assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc.toString()));
    wcs.forEach(wc -> assertEquals(a.qp.qpNum(), wc.qpNum()));
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), ids(wcs, false));
    assertEquals(List.of(100L, 101L, 102L, 103L), ids(wcs, true));
    assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("WRs posted while the QP is in ERR are flushed too, sends and receives, in posting order")
  void postedInErrAreFlushed() throws Exception {
    DpFixture.Side[] p = stuckPair(false);
    DpFixture.Side a = p[0];
    await(a.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    a.qp.postSend(SendWr.send(10, 0, Sge.of(a.mr, 0, 8)));
    a.qp.postRecv(RecvWr.of(110, Sge.of(a.mr, 0, 8)));
    a.qp.postSend(List.of(SendWr.send(11, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)), SendWr.send(12, 0)));
    a.qp.postRecv(List.of(RecvWr.of(111, Sge.of(a.mr, 0, 8)), RecvWr.of(112)));
    List<WorkCompletion> wcs = poll(a.cq, 6);
    wcs.forEach(wc -> assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc.toString()));
    assertEquals(List.of(10L, 11L, 12L), ids(wcs, false));
    assertEquals(List.of(110L, 111L, 112L), ids(wcs, true));
    // And again, one at a time, after the queues went idle.
    a.qp.postSend(SendWr.send(13, 0));
    assertEquals(13, pollOne(a.cq).wrId());
    a.qp.postRecv(RecvWr.of(113));
    assertEquals(113, pollOne(a.cq).wrId());
  }

  @Test
  @DisplayName("modify to RESET drops outstanding WRs without completions; connected again from RESET, the QP works")
  void modifyToResetDropsThenReconnectWorks() throws Exception {
    DpFixture.Side[] p = stuckPair(true);
    DpFixture.Side a = p[0];
    DpFixture.Side b = p[1];
    for (int i = 0; i < 3; i++) {
      a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, 64L * i, 64)));
    }
    for (int i = 0; i < 5; i++) {
      a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 0, 8)));
    }
    DpFixture.assertQuiet(a.cq, 30);

    await(a.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    assertEquals(QpState.RESET, a.qp.state());
    // The driver empties the queues in its own turn (see resetIsAppliedBeforeLaterPosts for why we wait):
    // every slot comes back, and no completion is made for the dropped WRs.
    awaitTrue("the send and receive queues of " + a.qp + " to be emptied by the reset",
        () -> DpFixture.sendQueue(a.qp).outstanding() == 0 && DpFixture.recvQueue(a.qp).outstanding() == 0);
    // Only A is reset and connected again; B never executed A's requests (RNR), so its PSNs still match.
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, DpFixture.RELIABLE));

    a.qp.postRecv(RecvWr.of(200, Sge.of(a.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(300, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(50, 0, Sge.of(a.mr, 512, 16)));
    b.qp.postSend(SendWr.send(60, 0, Sge.of(b.mr, 512, 16)));
    List<WorkCompletion> wcs = poll(a.cq, 2);
    wcs.forEach(DpFixture::assertOk);
    // The first completions after the reset are the new WRs: nothing of the dropped ones, and the new
    // receive (not one of the dropped 100..102) took B's message.
    assertEquals(java.util.Set.of(50L, 200L), java.util.Set.copyOf(wrIds(wcs)));
    assertCqEmpty(a.cq);
    List<WorkCompletion> bw = poll(b.cq, 2);
    bw.forEach(DpFixture::assertOk);
    assertEquals(java.util.Set.of(60L, 300L), java.util.Set.copyOf(wrIds(bw)));
  }

  @Test
  @DisplayName("ERR with nothing outstanding makes no completions; ERR to RESET to RTS works again")
  void errToResetToRts() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    DpFixture.Side b = f.side(64, 4096, null);
    DpFixture.createQp(a, QpType.RC, CAP, true);
    DpFixture.createQp(b, QpType.RC, CAP, true);
    DpFixture.connect(a, b);
    await(a.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    await(b.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    await(a.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    await(b.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    DpFixture.connect(a, b);
    DpFixture.quiesce(a);
    DpFixture.quiesce(b);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(2, 0, Sge.of(a.mr, 0, 8)));
    WorkCompletion s = pollOne(a.cq);
    assertOk(s);
    assertEquals(2, s.wrId());
    assertOk(pollOne(b.cq));
    assertCqEmpty(a.cq);
    assertCqEmpty(b.cq);
  }

  @Test
  @DisplayName("modify to RESET completes only once the driver applied it, so a receive posted after RESET -> INIT is kept")
  void resetIsAppliedBeforeLaterPosts() throws Exception {
    // One data-path thread, held by a task of its own, stands for a busy or slow driver actor: the
    // modifies (device actor) complete while the QP actor has not yet run.
    try (DpFixture g = DpFixture.start("dp-flush-late-reset",
        "midlayer.data-path-dispatcher.prestarted-fork-join { parallelism-min = 1, parallelism-max = 1 }")) {
      CountDownLatch holding = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      DpFixture.Side h = g.side(16, 4096, null);
      DpFixture.Side b = g.side(h.dev, 64, 4096, null);
      QueuePair hq = DpFixture.createQp(h, QpType.RC, CAP, true);
      QueuePair bq = DpFixture.createQp(b, QpType.RC, CAP, true);
      await(QpConnect.connect(bq, h.lidPath(), hq.qpNum(), 1, 1, DpFixture.RELIABLE));
      g.testKit.system().dispatchers()
          .lookup(org.apache.pekko.actor.typed.DispatcherSelector.fromConfig("midlayer.data-path-dispatcher"))
          .execute(() -> {
            holding.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int spins = 0;
            while (release.getCount() > 0 && System.nanoTime() < deadline) {
              DpFixture.backOff(spins++);
            }
          });
      assertTrue(holding.await(DpFixture.DEADLINE_MS, TimeUnit.MILLISECONDS));
      java.util.concurrent.CompletableFuture<?> reset;
      try {
        // The modify completes only once the driver applied it: not while its only thread is held.
        reset = bq.modify(toState(QpState.RESET), QpAttrMask.STATE).toCompletableFuture();
        assertThrows(java.util.concurrent.TimeoutException.class, () -> reset.get(200, TimeUnit.MILLISECONDS));
      } finally {
        release.countDown();
      }
      await(reset);
      await(bq.modify(QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1).accessFlags(0).build(),
          QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS));
      bq.postRecv(RecvWr.of(500, Sge.of(b.mr, 0, 64))); // accepted: the QP is in INIT
      await(bq.modify(toState(QpState.ERR), QpAttrMask.STATE));
      bq.postRecv(RecvWr.of(501)); // a marker, flushed after everything posted before it
      List<Long> seen = new ArrayList<>();
      DpFixture.awaitTrue(() -> "the flush of marker 501 (seen: " + seen + ")", () -> {
        WorkCompletion wc = b.cq.poll();
        if (wc != null) {
          seen.add(wc.wrId());
        }
        return seen.contains(501L);
      });
      assertEquals(List.of(500L, 501L), seen, "receive 500 was posted in INIT: it must be flushed, not lost");
    }
  }

  @Test
  @DisplayName("drain then destroy: after the flush, the QP, its send and receive CQs, MR and PD can all be destroyed")
  void drainedQpThenItsObjectsCanBeDestroyed() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    dev.midlayer.cq.CompletionQueue sendCq = await(a.dev.device().createCq(16, null, null, null));
    QueuePair qp = await(a.pd.createQp(new dev.midlayer.verbs.QpInitAttr(QpType.RC, sendCq, a.cq, CAP, true, null,
        null)));
    await(qp.modify(QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1).accessFlags(0).build(),
        QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS));
    qp.postRecv(RecvWr.of(100, Sge.of(a.mr, 0, 64)));
    await(qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    assertEquals(100, pollOne(a.cq).wrId());
    await(qp.destroy());
    await(sendCq.destroy());
    await(a.cq.destroy());
    await(a.mr.deregister());
    await(a.pd.dealloc());
  }

  @Test
  @DisplayName("after destroy, a QP no longer holds the one CQ it used for both queues: the CQ can be destroyed")
  void destroyedQpReleasesItsSharedCq() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    QueuePair qp = DpFixture.createQp(a, QpType.RC, CAP, true); // QpInitAttr with a.cq for both queues
    await(qp.destroy());
    await(a.cq.destroy());
    await(a.mr.deregister());
    await(a.pd.dealloc());
  }
}
