package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertBytes;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fillConst;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.postSendWhenRoom;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * RC SEND / SEND_WITH_IMM on the driver under test: data, completion fields, signaling, order, solicited, inline.
 *
 * <p>Seed rules: C1/C2 (postSend, postRecv, poll and requestNotify never sleep: the tests call them from
 * the test thread between polls), C5 (the same verbs from several places of one test). IB spec: IBA vol. 1
 * ch. 9 (RC transport: ordering, ACKs), §10.8 (work requests: signaling, solicited events, inline data),
 * §11.4 (completions and their fields).
 */
public abstract class RcSendContract extends DriverContract {
  private ConformanceFixture.Side[] rcPair(QpCap cap, boolean signalAllA) throws Exception {
    ConformanceFixture.Side a = f.side(1024, 64 * 1024, null);
    ConformanceFixture.Side b = f.side(1024, 64 * 1024, null);
    ConformanceFixture.createQp(a, QpType.RC, cap, signalAllA);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.connect(a, b);
    return new ConformanceFixture.Side[] {a, b};
  }

  @Test
  @DisplayName("RC SEND gathers several SGEs and scatters into several receive SGEs: bytes, byte_len, opcode, qp and src_qp")
  void sendGathersAndScatters() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 4, 4, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(a.mr, 0, 4096, 1);
    fillConst(b.mr, 0, 4096, (byte) 0xEE);
    // Gather 100 + 1 + 300 = 401 bytes from three places; scatter into 7 + 200 + 400 (room for 607).
    Sge[] gather = {Sge.of(a.mr, 0, 100), Sge.of(a.mr, 1000, 1), Sge.of(a.mr, 2000, 300)};
    b.qp.postRecv(RecvWr.of(77, Sge.of(b.mr, 0, 7), Sge.of(b.mr, 500, 200), Sge.of(b.mr, 1500, 400)));
    a.qp.postSend(SendWr.send(11, SendFlags.SIGNALED, gather));

    WorkCompletion recv = pollOne(b.cq);
    assertOk(recv);
    assertEquals(77, recv.wrId());
    assertEquals(WcOpcode.RECV, recv.opcode());
    assertEquals(401, recv.byteLen());
    assertEquals(b.qp.qpNum(), recv.qpNum());
    assertEquals(a.qp.qpNum(), recv.srcQp());
    assertEquals(0, recv.wcFlags() & WcFlags.WITH_IMM, "a plain SEND has no immediate");

    WorkCompletion send = pollOne(a.cq);
    assertOk(send);
    assertEquals(11, send.wrId());
    assertEquals(WcOpcode.SEND, send.opcode());
    assertEquals(401, send.byteLen());
    assertEquals(a.qp.qpNum(), send.qpNum());

    byte[] message = new byte[401];
    System.arraycopy(read(a.mr, 0, 100), 0, message, 0, 100);
    System.arraycopy(read(a.mr, 1000, 1), 0, message, 100, 1);
    System.arraycopy(read(a.mr, 2000, 300), 0, message, 101, 300);
    byte[] landed = new byte[401];
    System.arraycopy(read(b.mr, 0, 7), 0, landed, 0, 7);
    System.arraycopy(read(b.mr, 500, 200), 0, landed, 7, 200);
    System.arraycopy(read(b.mr, 1500, 194), 0, landed, 207, 194);
    assertArrayEquals(message, landed, "the gathered bytes land in scatter order");
    // Bytes of the last receive SGE past the message, and around the SGEs, are untouched.
    assertEquals((byte) 0xEE, b.mr.buffer().get(1500 + 194));
    assertEquals((byte) 0xEE, b.mr.buffer().get(7));
    assertEquals((byte) 0xEE, b.mr.buffer().get(499));
    assertEquals((byte) 0xEE, b.mr.buffer().get(700));
    assertCqEmpty(a.cq);
    assertCqEmpty(b.cq);
  }

  @Test
  @DisplayName("RC SEND_WITH_IMM: the receive completion has WITH_IMM and the immediate value as posted")
  void sendWithImmCarriesImmediate() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 2, 2, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(a.mr, 0, 64, 2);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(2, Sge.of(b.mr, 64, 64)));
    a.qp.postSend(SendWr.sendWithImm(10, 0, 0xCAFEBABE, Sge.of(a.mr, 0, 33)));
    a.qp.postSend(SendWr.sendWithImm(11, 0, 0, Sge.of(a.mr, 0, 1)));

    List<WorkCompletion> recvs = poll(b.cq, 2);
    WorkCompletion r1 = recvs.get(0);
    assertOk(r1);
    assertEquals(1, r1.wrId());
    assertEquals(WcOpcode.RECV, r1.opcode());
    assertEquals(33, r1.byteLen());
    assertEquals(WcFlags.WITH_IMM, r1.wcFlags() & WcFlags.WITH_IMM);
    assertEquals(0xCAFEBABE, r1.immData());
    assertEquals(a.qp.qpNum(), r1.srcQp());
    assertBytes(read(a.mr, 0, 33), b.mr, 0, "SEND_WITH_IMM payload");
    WorkCompletion r2 = recvs.get(1);
    assertOk(r2);
    assertEquals(WcFlags.WITH_IMM, r2.wcFlags() & WcFlags.WITH_IMM, "an immediate of 0 is still flagged");
    assertEquals(0, r2.immData());
    assertEquals(1, r2.byteLen());

    List<WorkCompletion> sends = poll(a.cq, 2);
    assertEquals(List.of(10L, 11L), wrIds(sends));
    sends.forEach(ConformanceFixture::assertOk);
    assertEquals(WcOpcode.SEND, sends.get(0).opcode());
    assertEquals(33, sends.get(0).byteLen());
  }

  @Test
  @DisplayName("an all-signaled QP completes every send, also those posted without SIGNALED, in posting order")
  void allSignaledCompletesEverySend() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(256, 256, 1, 1, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    int n = 200;
    for (int i = 0; i < n; i++) {
      b.qp.postRecv(RecvWr.of(1000 + i, Sge.of(b.mr, 64L * i, 64)));
    }
    for (int i = 0; i < n; i++) {
      a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 0, 8)));
    }
    List<WorkCompletion> sends = poll(a.cq, n);
    sends.forEach(ConformanceFixture::assertOk);
    assertEquals(LongStream.range(0, n).boxed().toList(), wrIds(sends));
    List<WorkCompletion> recvs = poll(b.cq, n);
    recvs.forEach(ConformanceFixture::assertOk);
    assertEquals(LongStream.range(1000, 1000 + n).boxed().toList(), wrIds(recvs));
    assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("selective signaling: only SIGNALED sends complete on success, and the slots of unsignaled ones are freed")
  void selectiveSignalingCompletesOnlySignaled() throws Exception {
    // maxSendWr 4: 40 posts only fit if unsignaled WRs free their slots as they finish.
    ConformanceFixture.Side[] p = rcPair(new QpCap(4, 64, 1, 1, 0), false);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    assertFalse(a.qp.signalAll());
    int n = 40;
    for (int i = 0; i < n; i++) {
      b.qp.postRecv(RecvWr.of(1000 + i, Sge.of(b.mr, 64L * i, 64)));
    }
    List<Long> expected = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      boolean signaled = i % 4 == 3; // every 4th, as a ULP must do to keep the SQ from filling
      a.qp.postSend(SendWr.send(i, signaled ? SendFlags.SIGNALED : 0, Sge.of(a.mr, 0, 8)));
      if (signaled) {
        expected.add((long) i);
        // Wait for this signaled one: then every earlier WR has finished and its slot is free again.
        WorkCompletion wc = pollOne(a.cq);
        assertOk(wc);
        assertEquals(i, wc.wrId(), "only SIGNALED sends complete, in posting order");
      }
    }
    assertCqEmpty(a.cq);
    assertEquals(n, poll(b.cq, n).size(), "every send, signaled or not, was delivered");
    assertEquals(10, expected.size());
  }

  @Test
  @DisplayName("selective signaling: unsignaled WRs with no signaled one after them still free their slots once ACKed")
  void unsignaledRunFreesItsSlotsWithoutASignaledOne() throws Exception {
    // The driver gives back a run of unsignaled WRs in one update at the end of the ACK that covers them;
    // with no signaled WR after them that end is the only place they are freed.
    ConformanceFixture.Side[] p = rcPair(new QpCap(4, 64, 1, 1, 0), false);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    // Observed through the API: each round fills the queue of 4 again, which it can only do (retrying
    // QUEUE_FULL while the ACK is on its way) once the previous round's slots were freed.
    for (int round = 0; round < 4; round++) {
      for (int i = 0; i < 4; i++) {
        b.qp.postRecv(RecvWr.of(100 * round + i, Sge.of(b.mr, 64L * i, 64)));
      }
      for (int i = 0; i < 4; i++) {
        postSendWhenRoom(a.qp, SendWr.send(100 * round + i, 0, Sge.of(a.mr, 0, 8)));
      }
      assertEquals(4, poll(b.cq, 4).size(), "round " + round + ": every unsignaled send was delivered");
    }
    assertCqEmpty(a.cq);
  }

  @Test
  @DisplayName("selective signaling: an error and the flushes after it complete even for unsignaled WRs")
  void selectiveSignalingStillCompletesErrorsAndFlushes() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 1, 1, 0), false);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    b.qp.postRecv(RecvWr.of(100, Sge.of(b.mr, 0, 64)));
    Sge bad = new Sge(a.mr.iova(), 8, a.mr.lkey() + 0x100); // a key that names no region
    a.qp.postSend(List.of(
        SendWr.send(0, 0, Sge.of(a.mr, 0, 8)),
        SendWr.send(1, 0, bad),
        SendWr.send(2, 0, Sge.of(a.mr, 0, 8)),
        SendWr.send(3, 0, Sge.of(a.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(a.cq, 3);
    assertEquals(List.of(1L, 2L, 3L), wrIds(wcs), "unsignaled success (0) is silent; error and flushes are not");
    assertEquals(WcStatus.LOC_PROT_ERR, wcs.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(2).status());
    awaitState(a.qp, QpState.ERR);
    // WR 0 (before the bad one) was delivered.
    WorkCompletion recv = pollOne(b.cq);
    assertOk(recv);
    assertEquals(100, recv.wrId());
  }

  @Test
  @DisplayName("completions of one queue come out in posting order (mixed sizes, many batches, both queues)")
  void completionsInPostingOrder() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(512, 512, 2, 1, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    fill(a.mr, 0, 8192, 3);
    int n = 300; // more than max-batch (64): several wire messages
    for (int i = 0; i < n; i++) {
      b.qp.postRecv(RecvWr.of(10_000 + i, Sge.of(b.mr, 128L * i, 128)));
    }
    for (int i = 0; i < n; i++) {
      int len = 1 + (i * 37) % 120;
      // Bursts of lists and single posts, some two-SGE.
      if (i % 3 == 0 && i + 1 < n) {
        a.qp.postSend(List.of(SendWr.send(i, 0, Sge.of(a.mr, i, len)),
            SendWr.send(i + 1, 0, Sge.of(a.mr, i + 1, 4), Sge.of(a.mr, 4000, 4))));
        i++;
      } else {
        a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, i, len)));
      }
    }
    List<WorkCompletion> sends = poll(a.cq, n);
    sends.forEach(ConformanceFixture::assertOk);
    assertEquals(LongStream.range(0, n).boxed().toList(), wrIds(sends));
    List<WorkCompletion> recvs = poll(b.cq, n);
    recvs.forEach(ConformanceFixture::assertOk);
    assertEquals(LongStream.range(10_000, 10_000 + n).boxed().toList(), wrIds(recvs));
    for (int i = 0; i < n; i++) {
      assertEquals(sends.get(i).byteLen(), recvs.get(i).byteLen(), "message " + i);
    }
  }

  @Test
  @DisplayName("PSNs wrap at 24 bits: a connection starting at PSN 0xFFFFF0 carries 64 sends in order")
  void psnWrapsAt24Bits() throws Exception {
    ConformanceFixture.Side a = f.side(256, 8192, null);
    ConformanceFixture.Side b = f.side(256, 8192, null);
    QpCap cap = new QpCap(128, 128, 1, 1, 0);
    ConformanceFixture.createQp(a, QpType.RC, cap, true);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0xFFFFF0, 0xFFFFF8, ConformanceFixture.RELIABLE));
    ConformanceFixture.await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0xFFFFF8, 0xFFFFF0, ConformanceFixture.RELIABLE));
    for (int i = 0; i < 64; i++) {
      b.qp.postRecv(RecvWr.of(100 + i, Sge.of(b.mr, 16L * i, 16)));
      a.qp.postRecv(RecvWr.of(200 + i, Sge.of(a.mr, 16L * i, 16)));
    }
    for (int i = 0; i < 64; i++) {
      a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 4096, 4)));
      b.qp.postSend(SendWr.send(i, 0, Sge.of(b.mr, 4096, 4)));
    }
    // Each CQ gets 64 send and 64 receive completions; per queue they are in order.
    for (ConformanceFixture.Side s : List.of(a, b)) {
      List<WorkCompletion> wcs = poll(s.cq, 128);
      wcs.forEach(ConformanceFixture::assertOk);
      List<Long> sends = new ArrayList<>();
      List<Long> recvs = new ArrayList<>();
      for (WorkCompletion wc : wcs) {
        (wc.opcode().isRecv() ? recvs : sends).add(wc.wrId());
      }
      assertEquals(LongStream.range(0, 64).boxed().toList(), sends);
      long base = s == a ? 200 : 100;
      assertEquals(LongStream.range(base, base + 64).boxed().toList(), recvs);
    }
  }

  @Test
  @DisplayName("a CQ armed SOLICITED is woken by a SOLICITED send's receive completion, not by an unsolicited one")
  void solicitedWakesSolicitedArmedCq() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger callsBeforeSolicitedSent = new AtomicInteger();
    CountDownLatch woken = new CountDownLatch(1);
    boolean[] solicitedSent = {false};
    Object lock = new Object();
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, cq -> {
      calls.incrementAndGet();
      synchronized (lock) {
        if (!solicitedSent[0]) {
          callsBeforeSolicitedSent.incrementAndGet();
        }
      }
      woken.countDown();
    });
    QpCap cap = new QpCap(16, 16, 1, 1, 0);
    ConformanceFixture.createQp(a, QpType.RC, cap, true);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.connect(a, b);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(2, Sge.of(b.mr, 64, 64)));
    b.cq.requestNotify(CqNotify.SOLICITED, false);

    a.qp.postSend(SendWr.send(10, 0, Sge.of(a.mr, 0, 8)));
    // The requester's completion comes after the ACK, which the responder sends after its receive completion
    // (and any wake-up it made): from here on, a wrong wake-up has been requested.
    assertOk(pollOne(a.cq));
    assertFalse(woken.await(150, TimeUnit.MILLISECONDS), "an unsolicited receive woke a SOLICITED-armed CQ");

    synchronized (lock) {
      solicitedSent[0] = true;
    }
    a.qp.postSend(SendWr.send(11, SendFlags.SOLICITED, Sge.of(a.mr, 0, 8)));
    assertTrue(woken.await(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS), "the solicited receive must wake the CQ");
    assertOk(pollOne(a.cq));
    List<WorkCompletion> recvs = poll(b.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(recvs));
    assertEquals(0, callsBeforeSolicitedSent.get());
    assertEquals(1, calls.get(), "one arming, one call");
  }

  @Test
  @DisplayName("a CQ armed SOLICITED is woken by an error completion (a flush counts as solicited)")
  void errorCompletionWakesSolicitedArmedCq() throws Exception {
    CountDownLatch woken = new CountDownLatch(1);
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, cq -> woken.countDown());
    QpCap cap = new QpCap(16, 16, 1, 1, 0);
    ConformanceFixture.createQp(a, QpType.RC, cap, true);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.connect(a, b);
    b.qp.postRecv(RecvWr.of(5, Sge.of(b.mr, 0, 64)));
    b.cq.requestNotify(CqNotify.SOLICITED, false);
    ConformanceFixture.await(b.qp.modify(dev.midlayer.ib.QpAttr.builder().qpState(QpState.ERR).build(),
        dev.midlayer.ib.QpAttrMask.STATE));
    assertTrue(woken.await(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS));
    WorkCompletion wc = pollOne(b.cq);
    assertEquals(5, wc.wrId());
    assertEquals(WcStatus.WR_FLUSH_ERR, wc.status());
  }

  @Test
  @DisplayName("INLINE: the buffer may be overwritten as soon as postSend returns; the receiver sees the bytes of post time")
  void inlineCopiesAtPostTime() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(64, 64, 2, 1, 128), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    int rounds = 50;
    for (int i = 0; i < rounds; i++) {
      b.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 256L * i, 256)));
    }
    byte[][] sent = new byte[rounds][];
    for (int i = 0; i < rounds; i++) {
      int len = 64 + i; // up to 113 of the 128 inline bytes, from two SGEs
      fill(a.mr, 0, 4096, 100 + i);
      byte[] expect = new byte[len];
      System.arraycopy(read(a.mr, 0, 40), 0, expect, 0, 40);
      System.arraycopy(read(a.mr, 1000, len - 40), 0, expect, 40, len - 40);
      sent[i] = expect;
      a.qp.postSend(SendWr.send(i, SendFlags.INLINE, Sge.of(a.mr, 0, 40), Sge.of(a.mr, 1000, len - 40)));
      fillConst(a.mr, 0, 4096, (byte) 0x5A); // overwrite right after the post returned
    }
    List<WorkCompletion> recvs = poll(b.cq, rounds);
    for (int i = 0; i < rounds; i++) {
      assertOk(recvs.get(i));
      assertEquals(sent[i].length, recvs.get(i).byteLen());
      assertBytes(sent[i], b.mr, 256 * i, "inline message " + i);
    }
    List<WorkCompletion> sends = poll(a.cq, rounds);
    sends.forEach(ConformanceFixture::assertOk);
    assertEquals(LongStream.range(0, rounds).boxed().toList(), wrIds(sends));
  }

  @Test
  @DisplayName("a zero-length SEND (no SGE) completes on both sides with byte_len 0")
  void zeroLengthSend() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 1, 1, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    b.qp.postRecv(RecvWr.of(3, new Sge[0]));
    a.qp.postSend(SendWr.send(4, 0));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(0, r.byteLen());
    assertOk(pollOne(a.cq));
    assertCqEmpty(a.cq);
  }

  /** A VALID fast-registration region of {@code s} (one page of a USER page pool, REG_MR posted on s.qp). */
  private static dev.midlayer.verbs.MemoryRegion fastRegRegion(ConformanceFixture.Side s) throws Exception {
    dev.midlayer.verbs.MemoryRegion pool = ConformanceFixture.await(s.pd.registerMr(
        java.nio.ByteBuffer.allocateDirect(dev.midlayer.verbs.Page.SIZE), dev.midlayer.ib.AccessFlags.LOCAL_WRITE));
    dev.midlayer.verbs.MemoryRegion mr = ConformanceFixture.await(s.pd.allocMr(1));
    mr.mapPages(List.of(pool.page(0)), 0x10000, dev.midlayer.verbs.Page.SIZE);
    s.qp.postSend(SendWr.regMr(99, SendFlags.SIGNALED, mr, mr.rkey(),
        dev.midlayer.ib.AccessFlags.LOCAL_WRITE | dev.midlayer.ib.AccessFlags.REMOTE_WRITE));
    WorkCompletion wc = pollOne(s.cq);
    assertOk(wc);
    assertEquals(WcOpcode.REG_MR, wc.opcode());
    assertTrue(mr.isValid());
    return mr;
  }

  @Test
  @DisplayName("RC SEND_WITH_INV: the receive completion has WITH_INVALIDATE and the invalidated rkey (of a "
      + "fast-registration region, which becomes FREE)")
  void sendWithInvalidateFlagsTheReceive() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 1, 1, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    dev.midlayer.verbs.MemoryRegion target = fastRegRegion(b);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.builder(dev.midlayer.ib.WrOpcode.SEND_WITH_INV).wrId(5).invalidateRkey(target.rkey())
        .sge(Sge.of(a.mr, 0, 8)).build());
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(WcFlags.WITH_INVALIDATE, r.wcFlags() & WcFlags.WITH_INVALIDATE);
    assertEquals(target.rkey(), r.invalidatedRkey());
    assertFalse(target.isValid());
  }

  @Test
  @DisplayName("RC LOCAL_INV is a local operation: it completes on the requester and never involves the responder")
  void localInvalidateIsLocal() throws Exception {
    ConformanceFixture.Side[] p = rcPair(new QpCap(16, 16, 1, 1, 0), true);
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    dev.midlayer.verbs.MemoryRegion mr = fastRegRegion(a);
    a.qp.postSend(SendWr.builder(dev.midlayer.ib.WrOpcode.LOCAL_INV).wrId(5).invalidateRkey(mr.lkey()).build());
    WorkCompletion wc = pollOne(a.cq);
    assertOk(wc);
    assertEquals(WcOpcode.LOCAL_INV, wc.opcode());
    assertFalse(mr.isValid());
    assertEquals(QpState.RTS, b.qp.state());
    assertEquals(QpState.RTS, a.qp.state());
    assertCqEmpty(b.cq);
  }
}
