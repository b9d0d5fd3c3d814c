package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertBytes;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fillConst;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.postSendWhenRoom;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * UD (address handles, GRH, Q_Key, MTU) and UC (no ACK, silent drops).
 *
 * <p>Seed rules: C1/C2 (the post and poll verbs never sleep), C5. IB spec: IBA vol. 1 ch. 9 (UD and UC
 * transport: no ACKs, silent drops), §10.2.4 (address handles), §8.3 (the GRH), §10.2.5 (Q_Keys).
 */
public abstract class UdUcContract extends DriverContract {
  private static final int QKEY = 0x11223344;
  private static final QpCap CAP = new QpCap(32, 32, 2, 2, 64);
  private ConformanceFixture.Side[] udPair(dev.midlayer.cq.CompletionHandler handlerB) throws Exception {
    ConformanceFixture.Side a = f.side(128, 16384, null);
    ConformanceFixture.Side b = f.side(128, 16384, handlerB);
    ConformanceFixture.createQp(a, QpType.UD, CAP, true);
    ConformanceFixture.createQp(b, QpType.UD, CAP, true);
    await(QpConnect.ud(a.qp, 1, QKEY, 0));
    await(QpConnect.ud(b.qp, 1, QKEY, 0));
    return new ConformanceFixture.Side[] {a, b};
  }

  private static void assertGid(Gid expected, byte[] grh, int at, String what) {
    ByteBuffer bb = ByteBuffer.wrap(grh, at, 16);
    assertEquals(expected.subnetPrefix(), bb.getLong(), what + " subnet prefix");
    assertEquals(expected.interfaceId(), bb.getLong(), what + " interface id");
  }

  @Test
  @DisplayName("UD SEND by LID: payload after the 40-byte GRH area (counted in byte_len), no GRH flag, src_qp and "
      + "slid of the sender")
  void udSendByLid() throws Exception {
    assumeLids();
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle ah = a.pd.createAh(b.path(1));
    fill(a.mr, 0, 256, 4);
    fillConst(b.mr, 0, 256, (byte) 0xEE);
    b.qp.postRecv(RecvWr.of(9, Sge.of(b.mr, 0, 40 + 100)));
    a.qp.postSend(SendWr.udSend(1, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 60), Sge.of(a.mr, 100, 40)));

    WorkCompletion s = pollOne(a.cq);
    assertOk(s);
    assertEquals(1, s.wrId());
    assertEquals(WcOpcode.SEND, s.opcode());
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(9, r.wrId());
    assertEquals(WcOpcode.RECV, r.opcode());
    assertEquals(a.qp.qpNum(), r.srcQp());
    assertEquals(a.lid(1), r.slid());
    assertEquals(0, r.wcFlags() & WcFlags.GRH, "addressed by LID: no GRH");
    assertEquals(40 + 100, r.byteLen(), "a UD byte_len counts the 40-byte GRH area, filled or not (IBA 11.4.2.1)");
    byte[] payload = new byte[100];
    System.arraycopy(read(a.mr, 0, 60), 0, payload, 0, 60);
    System.arraycopy(read(a.mr, 100, 40), 0, payload, 60, 40);
    assertBytes(payload, b.mr, 40, "UD payload after the GRH area");
    byte[] grhArea = read(b.mr, 0, 40);
    for (int i = 0; i < 40; i++) {
      assertEquals((byte) 0xEE, grhArea[i], "the GRH area stays as it was without a GRH (byte " + i + ")");
    }
  }

  @Test
  @DisplayName("UD selective signaling: a run of unsignaled sends frees its slots when the driver has sent it")
  void udUnsignaledRunFreesItsSlots() throws Exception {
    ConformanceFixture.Side a = f.side(128, 16384, null);
    ConformanceFixture.Side b = f.side(128, 16384, null);
    ConformanceFixture.createQp(a, QpType.UD, new QpCap(4, 64, 1, 1, 0), false);
    ConformanceFixture.createQp(b, QpType.UD, CAP, true);
    await(QpConnect.ud(a.qp, 1, QKEY, 0));
    await(QpConnect.ud(b.qp, 1, QKEY, 0));
    AddressHandle ah = a.pd.createAh(b.path(1));
    // Observed through the API: each round fills the queue of 4 again, which it can only do (retrying
    // QUEUE_FULL while the driver retires the sends) once the previous round's slots were freed.
    for (int round = 0; round < 4; round++) {
      for (int i = 0; i < 4; i++) {
        b.qp.postRecv(RecvWr.of(100 * round + i, Sge.of(b.mr, 128L * i, 40 + 64)));
      }
      for (int i = 0; i < 4; i++) {
        postSendWhenRoom(a.qp, SendWr.udSend(100 * round + i, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 16)));
      }
      assertEquals(4, poll(b.cq, 4).size(), "round " + round + ": every unsignaled send was delivered");
    }
    assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("UD SEND by GID: GRH flag, and the first 40 bytes hold the GRH (IPv6 version, next header 0x1B, hop limit, DGID)")
  void udSendByGidCarriesGrh() throws Exception {
    byte[] grh = sendByGid();
    assertEquals(6, (grh[0] >> 4) & 0xF, "IP version 6");
    assertEquals(0x1B, grh[6], "next header: IB BTH");
    assertEquals(64, grh[7] & 0xFF, "hop limit of AhAttr.ofGid");
    assertGid(udB.gid(1), grh, 24, "DGID");
  }

  @Test
  @DisplayName("UD SEND by GID: the GRH's SGID is the sender's port GID")
  void udGrhSgidIsTheSender() throws Exception {
    byte[] grh = sendByGid();
    assertGid(udA.gid(1), grh, 8, "SGID");
  }

  private ConformanceFixture.Side udA;
  private ConformanceFixture.Side udB;

  /** A UD message addressed by GID; returns the 40 GRH bytes as received (checked: flag, src, payload). */
  private byte[] sendByGid() throws Exception {
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle ah = a.pd.createAh(AhAttr.ofGid(1, b.gid(1)));
    fill(a.mr, 0, 256, 5);
    b.qp.postRecv(RecvWr.of(9, Sge.of(b.mr, 0, 16), Sge.of(b.mr, 1000, 200))); // the GRH spans two SGEs
    a.qp.postSend(SendWr.udSend(1, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 77)));

    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(WcFlags.GRH, r.wcFlags() & WcFlags.GRH);
    assertEquals(a.qp.qpNum(), r.srcQp());
    assertEquals(a.lid(1), r.slid());
    byte[] grh = new byte[40];
    System.arraycopy(read(b.mr, 0, 16), 0, grh, 0, 16);
    System.arraycopy(read(b.mr, 1000, 24), 0, grh, 16, 24);
    assertBytes(read(a.mr, 0, 77), b.mr, 1024, "payload after the GRH");
    udA = a;
    udB = b;
    return grh;
  }

  @Test
  @DisplayName("UD Q_Key mismatch: the message is dropped (the send still completes); the next one with the right Q_Key arrives")
  void udQkeyMismatchDrops() throws Exception {
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle ah = a.pd.createAh(b.path(1));
    fill(a.mr, 0, 64, 6);
    fill(a.mr, 64, 64, 7);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 128)));
    b.qp.postRecv(RecvWr.of(2, Sge.of(b.mr, 128, 128)));
    a.qp.postSend(SendWr.udSend(10, 0, ah, b.qp.qpNum(), QKEY + 1, Sge.of(a.mr, 0, 64)));
    assertOk(pollOne(a.cq));
    a.qp.postSend(SendWr.udSend(11, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 64, 64)));
    assertOk(pollOne(a.cq));
    // Messages from one QP to another arrive in order: had the first been accepted, it would have taken
    // receive 1. Receive 1 holds the second message, and receive 2 is still posted.
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(1, r.wrId());
    assertBytes(read(a.mr, 64, 64), b.mr, 40, "the message with the right Q_Key");
    assertCqEmpty(b.cq);
  }

  @Test
  @DisplayName("UD: a message larger than the path MTU is refused at post (INVALID); one of exactly the MTU goes through")
  void udLargerThanMtuRefusedAtPost() throws Exception {
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle ah = a.pd.createAh(b.path(1));
    int mtu = a.dev.cachedPort(1).activeMtu().bytes();
    assertEquals(4096, mtu);
    PostException e = assertThrows(PostException.class,
        () -> a.qp.postSend(SendWr.udSend(1, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, mtu + 1))));
    assertEquals(PostException.Reason.INVALID, e.reason());
    assertEquals(0, e.badIndex());
    e = assertThrows(PostException.class, () -> a.qp.postSend(List.of(
        SendWr.udSend(2, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, mtu)),
        SendWr.udSend(3, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, mtu - 1), Sge.of(a.mr, 0, 2)))));
    assertEquals(PostException.Reason.INVALID, e.reason());
    assertEquals(1, e.badIndex());
    b.qp.postRecv(RecvWr.of(5, Sge.of(b.mr, 0, 40 + mtu)));
    WorkCompletion s = pollOne(a.cq);
    assertOk(s);
    assertEquals(2, s.wrId(), "the MTU-sized message before the bad one was posted");
    assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("UD: an AH created inside a completion handler (from the request's slid) sends the reply")
  void ahCreatedInCompletionHandler() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch replied = new CountDownLatch(1);
    ConformanceFixture.Side[] holder = new ConformanceFixture.Side[2];
    ConformanceFixture.Side[] p = udPair(cq -> {
      try {
        WorkCompletion req = cq.poll();
        ConformanceFixture.Side b = holder[1];
        // Back to the sender: by its LID on InfiniBand, by its GID on a RoCE-like port (no LIDs there).
        AddressHandle back = b.pd.createAh(req.slid() != 0 ? AhAttr.ofLid(1, req.slid()) : holder[0].path(1));
        b.qp.postSend(SendWr.udSend(77, 0, back, req.srcQp(), QKEY, Sge.of(b.mr, 8192, 32)));
        replied.countDown();
      } catch (Throwable t) {
        failure.set(t);
        replied.countDown();
      }
    });
    System.arraycopy(p, 0, holder, 0, 2);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(b.mr, 8192, 32, 8);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 40 + 64)));
    a.qp.postRecv(RecvWr.of(2, Sge.of(a.mr, 0, 40 + 64)));
    b.cq.requestNotify(CqNotify.NEXT_COMP, false);
    AddressHandle ah = a.pd.createAh(b.path(1));
    a.qp.postSend(SendWr.udSend(1, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 1024, 16)));

    assertTrue(replied.await(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS));
    assertNull(failure.get(), () -> "the handler failed: " + failure.get());
    List<WorkCompletion> wcs = poll(a.cq, 2); // our send and the reply's receive
    wcs.forEach(ConformanceFixture::assertOk);
    WorkCompletion reply = wcs.stream().filter(w -> w.opcode().isRecv()).findFirst().orElseThrow();
    assertEquals(2, reply.wrId());
    assertEquals(b.qp.qpNum(), reply.srcQp());
    assertBytes(read(b.mr, 8192, 32), a.mr, 40, "reply payload");
  }

  private ConformanceFixture.Side[] ucPair() throws Exception {
    ConformanceFixture.Side a = f.side(128, 16384, null);
    ConformanceFixture.Side b = f.side(128, 16384, null);
    ConformanceFixture.createQp(a, QpType.UC, CAP, true);
    ConformanceFixture.createQp(b, QpType.UC, CAP, true);
    ConformanceFixture.connect(a, b);
    return new ConformanceFixture.Side[] {a, b};
  }

  @Test
  @DisplayName("UC SEND and SEND_WITH_IMM carry the bytes, byte_len, imm and src_qp")
  void ucSendWorks() throws Exception {
    ConformanceFixture.Side[] p = ucPair();
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(a.mr, 0, 512, 9);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 100), Sge.of(b.mr, 1000, 100)));
    b.qp.postRecv(RecvWr.of(2, Sge.of(b.mr, 2000, 64)));
    a.qp.postSend(SendWr.send(10, 0, Sge.of(a.mr, 0, 150)));
    a.qp.postSend(SendWr.sendWithImm(11, SendFlags.INLINE, 0x01020304, Sge.of(a.mr, 200, 20)));
    List<WorkCompletion> sends = poll(a.cq, 2);
    sends.forEach(ConformanceFixture::assertOk);
    assertEquals(List.of(10L, 11L), ConformanceFixture.wrIds(sends));
    List<WorkCompletion> recvs = poll(b.cq, 2);
    recvs.forEach(ConformanceFixture::assertOk);
    assertEquals(150, recvs.get(0).byteLen());
    assertEquals(a.qp.qpNum(), recvs.get(0).srcQp());
    assertBytes(read(a.mr, 0, 100), b.mr, 0, "first receive SGE");
    assertBytes(read(a.mr, 100, 50), b.mr, 1000, "second receive SGE");
    assertEquals(20, recvs.get(1).byteLen());
    assertEquals(WcFlags.WITH_IMM, recvs.get(1).wcFlags() & WcFlags.WITH_IMM);
    assertEquals(0x01020304, recvs.get(1).immData());
    assertBytes(read(a.mr, 200, 20), b.mr, 2000, "inline UC payload");
  }

  @Test
  @DisplayName("UC: a message with no receive posted is dropped silently; the requester still completes successfully")
  void ucMissingReceiveDropsSilently() throws Exception {
    assumeDeliveredWhenSent();
    ConformanceFixture.Side[] p = ucPair();
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(a.mr, 0, 64, 10);
    fill(a.mr, 64, 64, 11);
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 64)));
    assertOk(pollOne(a.cq));
    // A UC send completes as it leaves: message 1 may still be on its way. It was handed to the receiver's
    // actor before the completion, so a modify that stays in RTS (which completes once that actor has
    // applied it) proves message 1 has arrived and been dropped before the receive is posted.
    await(b.qp.modify(QpAttr.builder().build(), 0));
    b.qp.postRecv(RecvWr.of(5, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(2, 0, Sge.of(a.mr, 64, 64)));
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(5, r.wrId());
    assertBytes(read(a.mr, 64, 64), b.mr, 0, "the receive took the second message; the first was dropped");
    assertCqEmpty(b.cq);
    assertEquals(QpState.RTS, b.qp.state());
    assertEquals(QpState.RTS, a.qp.state());
  }

  @Test
  @DisplayName("UD: a message with no receive posted is dropped silently; the sender completes and the QPs stay RTS")
  void udMissingReceiveDropsSilently() throws Exception {
    assumeDeliveredWhenSent();
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle ah = a.pd.createAh(b.path(1));
    fill(a.mr, 0, 64, 12);
    fill(a.mr, 64, 64, 13);
    a.qp.postSend(SendWr.udSend(1, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 64)));
    assertOk(pollOne(a.cq));
    // As in the UC case: make sure message 1 reached the receiver (and was dropped) before posting.
    await(b.qp.modify(QpAttr.builder().build(), 0));
    b.qp.postRecv(RecvWr.of(5, Sge.of(b.mr, 0, 40 + 64)));
    a.qp.postSend(SendWr.udSend(2, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 64, 64)));
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertEquals(5, r.wrId());
    assertBytes(read(a.mr, 64, 64), b.mr, 40, "the receive took the second message");
    assertEquals(QpState.RTS, b.qp.state());
  }

  @Test
  @DisplayName("UD send-side error: LOC_PROT_ERR, the QP goes to SQE (not ERR), later sends flush, receives still work, SQE -> RTS resumes")
  void udSendErrorGoesToSqe() throws Exception {
    ConformanceFixture.Side[] p = udPair(null);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    AddressHandle toB = a.pd.createAh(b.path(1));
    AddressHandle toA = b.pd.createAh(a.path(1));
    Sge bad = new Sge(a.mr.iova(), 8, a.mr.lkey() + 0x100);
    a.qp.postSend(List.of(SendWr.udSend(1, 0, toB, b.qp.qpNum(), QKEY, bad),
        SendWr.udSend(2, 0, toB, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(a.cq, 2);
    assertEquals(List.of(1L, 2L), ConformanceFixture.wrIds(wcs));
    assertEquals(dev.midlayer.ib.WcStatus.LOC_PROT_ERR, wcs.get(0).status());
    assertEquals(dev.midlayer.ib.WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    ConformanceFixture.awaitState(a.qp, QpState.SQE);
    // Sends posted in SQE are flushed.
    a.qp.postSend(SendWr.udSend(3, 0, toB, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8)));
    WorkCompletion flushed = pollOne(a.cq);
    assertEquals(3, flushed.wrId());
    assertEquals(dev.midlayer.ib.WcStatus.WR_FLUSH_ERR, flushed.status());
    // The receive side keeps working in SQE.
    a.qp.postRecv(RecvWr.of(50, Sge.of(a.mr, 1024, 40 + 64)));
    b.qp.postSend(SendWr.udSend(60, 0, toA, a.qp.qpNum(), QKEY, Sge.of(b.mr, 0, 16)));
    WorkCompletion r = pollOne(a.cq);
    assertOk(r);
    assertEquals(50, r.wrId());
    assertOk(pollOne(b.cq));
    // SQE -> RTS: sending works again.
    await(a.qp.modify(dev.midlayer.ib.QpAttr.builder().qpState(QpState.RTS).build(),
        dev.midlayer.ib.QpAttrMask.STATE));
    b.qp.postRecv(RecvWr.of(70, Sge.of(b.mr, 1024, 40 + 64)));
    a.qp.postSend(SendWr.udSend(4, 0, toB, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8)));
    WorkCompletion s = pollOne(a.cq);
    assertOk(s);
    assertEquals(4, s.wrId());
    assertEquals(70, pollOne(b.cq).wrId());
  }

  /** LID addressing exists only on InfiniBand ports; a RoCE-like port addresses by GID. */
  private void assumeLids() {
    org.junit.jupiter.api.Assumptions.assumeTrue(driver().sendCompletionMeansDelivered(),
        () -> driver().name() + ": RoCE-like ports have no LIDs");
  }

  /**
   * These tests order "the message arrived" after "its send completed", which holds when the send completes as
   * the responder takes it (in one JVM), not over a wire where an unreliable send completes as it leaves.
   */
  private void assumeDeliveredWhenSent() {
    org.junit.jupiter.api.Assumptions.assumeTrue(driver().sendCompletionMeansDelivered(),
        () -> driver().name() + ": an unreliable send completes as it leaves, before it is delivered");
  }
}
