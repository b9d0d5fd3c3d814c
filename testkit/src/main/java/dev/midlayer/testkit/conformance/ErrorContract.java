package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * RC transport and local errors: the completion status on each side, the QP states after, the flushes.
 *
 * <p>Seed rules: C1/C2 (errors are reported through completions, never by sleeping in post), C3 (the
 * affiliated events of a link going down arrive in any context). IB spec: IBA vol. 1 §9.7.5 (ACK timeout and
 * retry_cnt), §9.7.5.2.8 (RNR NAK and rnr_retry), §10.3 (QP moves to ERR), §11.6.2 (completion errors).
 */
public abstract class ErrorContract extends DriverContract {
  private static final QpCap CAP = new QpCap(16, 16, 2, 2, 0);
  private ConformanceFixture.Side a;
  private ConformanceFixture.Side b;

  @BeforeEach
  void start() throws Exception {
    a = f.side(256, 8192, null);
    b = f.side(256, 8192, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
  }

  private static QpAttr toState(QpState s) {
    return QpAttr.builder().qpState(s).build();
  }

  @Test
  @DisplayName("receive buffer too small: responder LOC_LEN_ERR, requester REM_INV_REQ_ERR, both QPs in ERR, later WRs flushed")
  void receiveTooSmall() throws Exception {
    ConformanceFixture.connect(a, b);
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 16)));
    b.qp.postRecv(RecvWr.of(101, Sge.of(b.mr, 64, 64)));
    a.qp.postSend(List.of(SendWr.send(1, 0, Sge.of(a.mr, 0, 17)), SendWr.send(2, 0, Sge.of(a.mr, 0, 8))));

    List<WorkCompletion> resp = poll(b.cq, 2);
    assertEquals(List.of(100L, 101L), wrIds(resp));
    assertEquals(WcStatus.LOC_LEN_ERR, resp.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, resp.get(1).status(), "the responder's other receives are flushed");
    List<WorkCompletion> req = poll(a.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(req));
    assertEquals(WcStatus.REM_INV_REQ_ERR, req.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, req.get(1).status());
    awaitState(a.qp, QpState.ERR);
    awaitState(b.qp, QpState.ERR);

    // WRs posted afterwards, on either side, are flushed.
    a.qp.postSend(SendWr.send(3, 0, Sge.of(a.mr, 0, 8)));
    a.qp.postRecv(RecvWr.of(4, Sge.of(a.mr, 0, 8)));
    b.qp.postRecv(RecvWr.of(102, Sge.of(b.mr, 0, 64)));
    List<WorkCompletion> later = poll(a.cq, 2);
    later.forEach(wc -> assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc.toString()));
    assertEquals(java.util.Set.of(3L, 4L), java.util.Set.copyOf(wrIds(later)));
    WorkCompletion bLater = pollOne(b.cq);
    assertEquals(102, bLater.wrId());
    assertEquals(WcStatus.WR_FLUSH_ERR, bLater.status());
  }

  @Test
  @DisplayName("after a responder error (LOC_LEN_ERR), RESET and reconnect: the receive queue has its full depth again")
  void receiveQueueDepthSurvivesResponderErrorAndReset() throws Exception {
    ConformanceFixture.connect(a, b);
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 16)));
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 17)));
    assertEquals(WcStatus.LOC_LEN_ERR, pollOne(b.cq).status());
    assertEquals(WcStatus.REM_INV_REQ_ERR, pollOne(a.cq).status());
    awaitState(b.qp, QpState.ERR);
    awaitState(a.qp, QpState.ERR);
    await(a.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    await(b.qp.modify(toState(QpState.RESET), QpAttrMask.STATE));
    ConformanceFixture.connect(a, b);
    ConformanceFixture.quiesce(a);
    ConformanceFixture.quiesce(b);
    // maxRecvWr is 16: all 16 must be postable (a slot leaked by the failed receive would refuse the 16th).
    for (int i = 0; i < CAP.maxRecvWr(); i++) {
      b.qp.postRecv(RecvWr.of(200 + i, Sge.of(b.mr, 64L * i, 64)));
    }
    a.qp.postSend(SendWr.send(2, 0, Sge.of(a.mr, 0, 8)));
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(200, r.wrId());
  }

  @Test
  @DisplayName("no receive posted, rnr_retry 2: requester RNR_RETRY_EXC_ERR and ERR; the responder stays RTS")
  void rnrRetryExceeded() throws Exception {
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(24, 7, 2, 1);
    ConformanceFixture.connect(a, b, p, p);
    a.qp.postSend(List.of(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)), SendWr.send(2, 0, Sge.of(a.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(a.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(WcStatus.RNR_RETRY_EXC_ERR, wcs.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(a.qp, QpState.ERR);
    assertEquals(QpState.RTS, b.qp.state(), "an RNR is not the responder's error");
    assertCqEmpty(b.cq);
  }

  @Test
  @DisplayName("no receive posted, rnr_retry 7: the requester retries forever and succeeds once a receive is posted")
  void rnrRetryForeverSucceedsLater() throws Exception {
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);
    ConformanceFixture.connect(a, b, p, p);
    fill(a.mr, 0, 64, 9);
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 32)));
    // More RNR periods than any finite rnr_retry could count go by (a fence, not a wait): still nothing.
    f.rnrFence(a.dev, b.dev);
    assertCqEmpty(a.cq);
    assertEquals(QpState.RTS, a.qp.state());
    b.qp.postRecv(RecvWr.of(7, Sge.of(b.mr, 0, 64)));
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(32, r.byteLen());
    ConformanceFixture.assertBytes(read(a.mr, 0, 32), b.mr, 0, "payload after the RNR waits");
  }

  @Test
  @DisplayName("deregistering an MR that an outstanding SEND reads from is allowed; that SEND then completes "
      + "LOC_PROT_ERR (not lost, never reading freed memory), the requester goes to ERR, the responder keeps its receive")
  void deregisterWhileInUse() throws Exception {
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);
    ConformanceFixture.connect(a, b, p, p);
    MemoryRegion src = await(a.pd.registerMr(java.nio.ByteBuffer.allocateDirect(256), AccessFlags.LOCAL_WRITE));
    // No receive yet: the SEND waits in RNR retries (rnr_retry 7 = forever) with its source still registered.
    a.qp.postSend(SendWr.send(1, SendFlags.SIGNALED, Sge.of(src, 0, 64)));
    await(src.deregister());
    b.qp.postRecv(RecvWr.of(9, Sge.of(b.mr, 0, 64)));
    WorkCompletion wc = pollOne(a.cq);
    assertEquals(1, wc.wrId());
    assertEquals(WcStatus.LOC_PROT_ERR, wc.status());
    awaitState(a.qp, QpState.ERR);
    assertEquals(QpState.RTS, b.qp.state(), "a requester's local error is not the responder's");
    assertCqEmpty(b.cq);
  }

  /** Local SGE faults at the requester. */
  enum BadSge {
    UNKNOWN_LKEY, ONE_BYTE_PAST_THE_REGION, REGION_OF_ANOTHER_PD, DEREGISTERED_REGION
  }

  @ParameterizedTest(name = "{0}: LOC_PROT_ERR, QP in ERR, the rest flushed")
  @EnumSource(BadSge.class)
  @DisplayName("a bad local SGE (unknown lkey, out of range by one byte, another PD's MR, deregistered) gives LOC_PROT_ERR and ERR")
  void badLocalSge(BadSge kind) throws Exception {
    ConformanceFixture.connect(a, b);
    Sge bad = switch (kind) {
      case UNKNOWN_LKEY -> new Sge(a.mr.iova(), 8, a.mr.lkey() + 0x100);
      case ONE_BYTE_PAST_THE_REGION -> new Sge(a.mr.iova() + a.mr.length() - 10, 11, a.mr.lkey());
      case REGION_OF_ANOTHER_PD -> {
        ProtectionDomain other = await(a.dev.allocPd());
        MemoryRegion mr = await(other.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE));
        yield Sge.of(mr, 0, 8);
      }
      case DEREGISTERED_REGION -> {
        MemoryRegion mr = await(a.pd.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE));
        await(mr.deregister());
        yield Sge.of(mr, 0, 8);
      }
    };
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(101, Sge.of(b.mr, 64, 64)));
    // A good one before (delivered), the bad one, a good one after (flushed).
    a.qp.postSend(List.of(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)), SendWr.send(2, 0, bad),
        SendWr.send(3, 0, Sge.of(a.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(a.cq, 3);
    assertEquals(List.of(1L, 2L, 3L), wrIds(wcs));
    assertOk(wcs.get(0));
    assertEquals(WcStatus.LOC_PROT_ERR, wcs.get(1).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(2).status());
    awaitState(a.qp, QpState.ERR);
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(100, r.wrId());
    assertEquals(QpState.RTS, b.qp.state(), "a requester's local error does not touch the responder");
  }

  @Test
  @DisplayName("a bad lkey in the responder's receive: responder LOC_PROT_ERR, requester REM_OP_ERR, both in ERR")
  void badReceiveSge() throws Exception {
    ConformanceFixture.connect(a, b);
    b.qp.postRecv(RecvWr.of(100, new Sge(b.mr.iova(), 64, b.mr.lkey() + 0x100)));
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)));
    WorkCompletion r = pollOne(b.cq);
    assertEquals(100, r.wrId());
    assertEquals(WcStatus.LOC_PROT_ERR, r.status());
    WorkCompletion s = pollOne(a.cq);
    assertEquals(1, s.wrId());
    assertEquals(WcStatus.REM_OP_ERR, s.status());
    awaitState(a.qp, QpState.ERR);
    awaitState(b.qp, QpState.ERR);
  }

  /** Ways the requester stops hearing ACKs. */
  enum Silence {
    PEER_DESTROYED, PEER_IN_ERR, PEER_LINK_DOWN, LOCAL_LINK_DOWN
  }

  private void silence(Silence how) throws Exception {
    switch (how) {
      case PEER_DESTROYED -> await(b.qp.destroy());
      case PEER_IN_ERR -> await(b.qp.modify(toState(QpState.ERR), QpAttrMask.STATE));
      case PEER_LINK_DOWN -> f.linkDown(b.dev, 1);
      case LOCAL_LINK_DOWN -> f.linkDown(a.dev, 1);
    }
  }

  @ParameterizedTest(name = "{0}: RETRY_EXC_ERR, QP in ERR, the rest flushed")
  @EnumSource(Silence.class)
  @DisplayName("peer destroyed, peer in ERR, or a link down: RETRY_EXC_ERR after retry_cnt ACK timeouts")
  void retryExceeded(Silence how) throws Exception {
    if (how == Silence.PEER_LINK_DOWN || how == Silence.LOCAL_LINK_DOWN) {
      assumeLinkControl();
    }
    // Timeout 5 (4.096 us x 2^5 x 0.001, rounded up to a scheduler tick) and 7 retries: the whole retry
    // sequence takes a few tens of ms, and the first exchange below would only fail spuriously if the
    // driver actors stalled that long.
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(5, 7, 7, 1);
    ConformanceFixture.connect(a, b, p, p);
    // The connection works first.
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)));
    assertOk(pollOne(a.cq));
    assertOk(pollOne(b.cq));

    silence(how);
    if (how != Silence.PEER_DESTROYED && how != Silence.PEER_IN_ERR) {
      b.qp.postRecv(RecvWr.of(101, Sge.of(b.mr, 0, 64))); // a receive is there: only the link is missing
    }
    a.qp.postSend(List.of(SendWr.send(2, 0, Sge.of(a.mr, 0, 8)), SendWr.send(3, 0, Sge.of(a.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(a.cq, 2);
    assertEquals(List.of(2L, 3L), wrIds(wcs));
    assertEquals(WcStatus.RETRY_EXC_ERR, wcs.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(a.qp, QpState.ERR);
    if (how == Silence.PEER_LINK_DOWN || how == Silence.LOCAL_LINK_DOWN) {
      assertEquals(QpState.RTS, b.qp.state(), "a link going down does not move QPs to ERR");
    }
  }

  @Test
  @DisplayName("timeout 0 never times out: with the link down nothing completes, while a timeout-1 QP has long failed")
  void timeoutZeroWaitsForever() throws Exception {
    QpConnect.Params forever = QpConnect.Params.defaults().withRetries(0, 1, 7, 1);
    QpConnect.Params quick = QpConnect.Params.defaults().withRetries(1, 7, 7, 1);
    ConformanceFixture.connect(a, b, forever, forever);
    assumeLinkControl();
    // A control pair on the same devices with timeout 1 and retry_cnt 7: when it fails, eight timeouts of
    // code 1 have gone by (a fence, not a wait).
    ConformanceFixture.Side a2 = f.side(a.dev, 16, 4096, null);
    ConformanceFixture.Side b2 = f.side(b.dev, 16, 4096, null);
    ConformanceFixture.createQp(a2, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b2, QpType.RC, CAP, true);
    ConformanceFixture.connect(a2, b2, quick, quick);
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));

    f.linkDown(b.dev, 1);
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)));
    a2.qp.postSend(SendWr.send(1, 0, Sge.of(a2.mr, 0, 8)));
    assertEquals(WcStatus.RETRY_EXC_ERR, pollOne(a2.cq).status());
    // Many timeout-1 periods went by: still nothing.
    assertCqEmpty(a.cq);
    assertEquals(QpState.RTS, a.qp.state());
    assertCqEmpty(b.cq);
  }

  @Test
  @DisplayName("timeout 0: after the link comes back, the next send makes the responder NAK the PSN gap and both sends succeed")
  void timeoutZeroRecoversThroughSequenceNak() throws Exception {
    assumeLinkControl();
    QpConnect.Params forever = QpConnect.Params.defaults().withRetries(0, 1, 7, 1);
    ConformanceFixture.connect(a, b, forever, forever);
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(101, Sge.of(b.mr, 64, 64)));
    f.linkDown(b.dev, 1);
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)));
    f.timeoutFence(a.dev, b.dev); // eight timeouts of code 1 through the same down link: still nothing
    assertCqEmpty(a.cq);
    f.linkUp(b.dev, 1);
    // The lost PSN is never resent by a timer (timeout 0); the next request arrives ahead of it.
    a.qp.postSend(SendWr.send(2, 0, Sge.of(a.mr, 0, 8)));
    List<WorkCompletion> wcs = poll(a.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    wcs.forEach(ConformanceFixture::assertOk);
    assertEquals(List.of(100L, 101L), wrIds(poll(b.cq, 2)));
  }

  @Test
  @DisplayName("timeout > 0: a send lost while the link was down is retransmitted once it is up again and succeeds")
  void retransmitAfterLinkUp() throws Exception {
    assumeLinkControl();
    // Timeout 24 at scale 0.001 is about 69 ms, 7 retries: the link is back long before they run out.
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);
    ConformanceFixture.connect(a, b, p, p);
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));
    f.linkDown(a.dev, 1);
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 8)));
    // The first transmission goes nowhere: a control pair through the same down link times out (code 1,
    // far shorter than this QP's code 24) while nothing completes here.
    f.timeoutFence(a.dev, b.dev);
    assertCqEmpty(a.cq);
    assertCqEmpty(b.cq);
    f.linkUp(a.dev, 1);
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(100, r.wrId());
    assertCqEmpty(b.cq);
  }

}
