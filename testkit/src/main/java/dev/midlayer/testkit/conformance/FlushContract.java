package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
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
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Modify to ERR (flush everything, in order, signaled or not) and to RESET (drop everything), and back.
 *
 * <p>Seed rules: C1/C2 (post in ERR flushes, never sleeps), C4 (modify may sleep and completes once the
 * driver applied it), C15 (the objects of a drained QP can all be destroyed). IB spec: IBA vol. 1 §10.3 (QP
 * states: ERR flushes with WR_FLUSH_ERR, RESET drops), §11.4.2.1 (completion statuses).
 */
public abstract class FlushContract extends DriverContract {
  private static final QpCap CAP = new QpCap(32, 32, 1, 1, 0);
  private static QpAttr toState(QpState s) {
    return QpAttr.builder().qpState(s).build();
  }

  /**
   * A connected RC pair whose requester A cannot finish anything: B never has a receive and RNR retry is
   * forever, so A's send WRs stay outstanding (in flight and queued) until we change A's state.
   */
  private ConformanceFixture.Side[] stuckPair(boolean signalAllA) throws Exception {
    ConformanceFixture.Side a = f.side(256, 8192, null);
    ConformanceFixture.Side b = f.side(256, 8192, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, signalAllA);
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
    ConformanceFixture.connect(a, b, QpConnect.Params.defaults().withRetries(24, 7, 7, 1), ConformanceFixture.RELIABLE);
    return new ConformanceFixture.Side[] {a, b};
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
    ConformanceFixture.Side[] p = stuckPair(false);
    ConformanceFixture.Side a = p[0];
    for (int i = 0; i < 4; i++) {
      a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, 64L * i, 64)));
    }
    a.qp.postSend(SendWr.send(0, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)));
    a.qp.postSend(List.of(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)), SendWr.send(2, 0, Sge.of(a.mr, 0, 8))));
    a.qp.postSend(SendWr.send(3, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)));
    a.qp.postSend(SendWr.send(4, 0, Sge.of(a.mr, 0, 8)));
    // Stuck on RNR: nothing completed by itself. No wait needed: anything that had completed before the ERR
    // would show below as a status other than WR_FLUSH_ERR.
    assertCqEmpty(a.cq);

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
    ConformanceFixture.Side[] p = stuckPair(false);
    ConformanceFixture.Side a = p[0];
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
    ConformanceFixture.Side[] p = stuckPair(true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    for (int i = 0; i < 3; i++) {
      a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, 64L * i, 64)));
    }
    for (int i = 0; i < 5; i++) {
      a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 0, 8)));
    }
    assertCqEmpty(a.cq); // stuck on RNR; the reset below must drop them, whatever had happened

    await(a.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    assertEquals(QpState.RESET, a.qp.state());
    // Only A is reset and connected again; B never executed A's requests (RNR), so its PSNs still match.
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, ConformanceFixture.RELIABLE));

    // Every slot came back (observed through the API): both queues of 32 take 32 new WRs at once, which
    // they could not if the 5 sends or 3 receives dropped by the reset still held theirs.
    for (int i = 0; i < CAP.maxRecvWr(); i++) {
      a.qp.postRecv(RecvWr.of(200 + i, Sge.of(a.mr, 0, 64)));
      b.qp.postRecv(RecvWr.of(300 + i, Sge.of(b.mr, 64L * i, 64)));
    }
    for (int i = 0; i < CAP.maxSendWr(); i++) {
      a.qp.postSend(SendWr.send(i == 0 ? 50 : 10 + i, 0, Sge.of(a.mr, 512, 16)));
    }
    b.qp.postSend(SendWr.send(60, 0, Sge.of(b.mr, 512, 16)));
    List<WorkCompletion> wcs = poll(a.cq, CAP.maxSendWr() + 1);
    wcs.forEach(ConformanceFixture::assertOk);
    // The completions after the reset are the new WRs only: nothing of the dropped ones (sends 0..4 are
    // not among the new ids 50, 11..41), and the first new receive (not one of the dropped 100..102) took
    // B's message.
    java.util.Set<Long> expected = new java.util.HashSet<>(List.of(50L, 200L));
    for (int i = 1; i < CAP.maxSendWr(); i++) {
      expected.add(10L + i);
    }
    assertEquals(expected, java.util.Set.copyOf(wrIds(wcs)));
    assertCqEmpty(a.cq);
    List<WorkCompletion> bw = poll(b.cq, CAP.maxSendWr() + 1);
    bw.forEach(ConformanceFixture::assertOk);
    assertTrue(wrIds(bw).contains(60L), "B's send completed");
    assertEquals(CAP.maxSendWr(), wrIds(bw).stream().filter(id -> id >= 300).count(), "B received every new send");
  }

  @Test
  @DisplayName("ERR with nothing outstanding makes no completions; ERR to RESET to RTS works again")
  void errToResetToRts() throws Exception {
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
    ConformanceFixture.connect(a, b);
    await(a.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    await(b.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
    await(a.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    await(b.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    ConformanceFixture.connect(a, b);
    ConformanceFixture.quiesce(a);
    ConformanceFixture.quiesce(b);
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
  @DisplayName("drain then destroy: after the flush, the QP, its send and receive CQs, MR and PD can all be destroyed")
  void drainedQpThenItsObjectsCanBeDestroyed() throws Exception {
    ConformanceFixture.Side a = f.side(64, 4096, null);
    dev.midlayer.cq.CompletionQueue sendCq = await(a.dev.createCq(16, null, null, null));
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
    ConformanceFixture.Side a = f.side(64, 4096, null);
    QueuePair qp = ConformanceFixture.createQp(a, QpType.RC, CAP, true); // QpInitAttr with a.cq for both queues
    await(qp.destroy());
    await(a.cq.destroy());
    await(a.mr.deregister());
    await(a.pd.dealloc());
  }
}
