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
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.OneSidedFixture.Guarded;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Remote access checks at the responder (see the IB spec sections below; the bad flows of rdma-core's pyverbs
 * tests test_mr.py, test_atomic.py, test_qpex.py): the requester's status, both QPs in ERR, nothing written
 * (guard bytes around the target region), and the post-time refusals.
 *
 * <p>Seed rules: C1/C2 (protection errors come back as completions, never by sleeping). IB spec: IBA vol. 1
 * §10.6 (memory protection: keys, bounds, rights), §9.7.4 (the responder's NAKs), §11.6.2 (REM_ACCESS_ERR,
 * REM_INV_REQ_ERR).
 */
public abstract class MemoryProtectionContract extends DriverContract {
  // ---- from OneSidedProtectionTest ----
  private static final int LEN = 4096;
  private static final int W = AccessFlags.REMOTE_WRITE;
  private static final int R = AccessFlags.REMOTE_READ;
  private static final int A = AccessFlags.REMOTE_ATOMIC;
  private static final int LW = AccessFlags.LOCAL_WRITE;
  /** A bad remote access: the responder QP's access, the MR's access, the WR, and the requester's status. */
  enum Bad {
    QP_WITHOUT_REMOTE_WRITE(R | A, LW | W | R | A, WcStatus.REM_INV_REQ_ERR),
    QP_WITHOUT_REMOTE_READ(W | A, LW | W | R | A, WcStatus.REM_INV_REQ_ERR),
    QP_WITHOUT_REMOTE_ATOMIC_FAA(W | R, LW | W | R | A, WcStatus.REM_INV_REQ_ERR),
    QP_WITHOUT_REMOTE_ATOMIC_CAS(W | R, LW | W | R | A, WcStatus.REM_INV_REQ_ERR),
    MR_READ_ONLY_WRITE(W | R | A, R, WcStatus.REM_ACCESS_ERR),
    MR_WRITE_ONLY_READ(W | R | A, LW | W, WcStatus.REM_ACCESS_ERR),
    MR_NO_ATOMIC_FAA(W | R | A, LW | W | R, WcStatus.REM_ACCESS_ERR),
    MR_NO_ATOMIC_CAS(W | R | A, LW | W | R, WcStatus.REM_ACCESS_ERR),
    BAD_RKEY_WRITE(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    BAD_RKEY_READ(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    OTHER_PD_MR_WRITE(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    OTHER_PD_MR_ATOMIC(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    WRITE_ONE_BYTE_BEFORE(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    WRITE_ONE_BYTE_PAST(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    READ_ONE_BYTE_BEFORE(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    READ_ONE_BYTE_PAST(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    ATOMIC_PAST_THE_END(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    ATOMIC_BEFORE_THE_START(W | R | A, LW | W | R | A, WcStatus.REM_ACCESS_ERR),
    MISALIGNED_FAA(W | R | A, LW | W | R | A, WcStatus.REM_INV_REQ_ERR),
    MISALIGNED_CAS(W | R | A, LW | W | R | A, WcStatus.REM_INV_REQ_ERR);

    final int qpAccess;
    final int mrAccess;
    final WcStatus expected;

    Bad(int qpAccess, int mrAccess, WcStatus expected) {
      this.qpAccess = qpAccess;
      this.mrAccess = mrAccess;
      this.expected = expected;
    }
  }

  private static SendWr.Builder writeWr(Pair p, int len) {
    return SendWr.builder(WrOpcode.RDMA_WRITE).sge(Sge.of(p.req.mr, 0, len));
  }

  private static SendWr.Builder readWr(Pair p, int len) {
    return SendWr.builder(WrOpcode.RDMA_READ).sge(Sge.of(p.req.mr, 8192, len));
  }

  private static SendWr.Builder atomicWr(Pair p, WrOpcode op) {
    return SendWr.builder(op).sge(Sge.of(p.req.mr, 8192, 8)).atomic(0x0102030405060708L, 77);
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Bad.class)
  @DisplayName("a forbidden remote access: requester REM_INV_REQ_ERR (QP access, misaligned atomic) or REM_ACCESS_ERR (key, PD, MR right, range), both QPs ERR, nothing written, the next WR flushed")
  void badRemoteAccess(Bad bad) throws Exception {
    Pair p = OneSidedFixture.pair(f, 65536, LEN, bad.mrAccess, bad.qpAccess, ConformanceFixture.RELIABLE);
    Guarded other = null;
    fill(p.req.mr, 0, 8192, 44);
    fill(p.req.mr, 8192, 8192, 45);
    byte[] localBefore = read(p.req.mr, 0, 65536);
    // A first valid check: the target's bytes at the fringes equal the pattern (so "unchanged" means something).
    int rkey = p.rkey();
    long base = p.addr(0);
    SendWr wr = switch (bad) {
      case QP_WITHOUT_REMOTE_WRITE, MR_READ_ONLY_WRITE -> writeWr(p, 64).remote(base + 64, rkey).build();
      case QP_WITHOUT_REMOTE_READ, MR_WRITE_ONLY_READ -> readWr(p, 64).remote(base + 64, rkey).build();
      case QP_WITHOUT_REMOTE_ATOMIC_FAA, MR_NO_ATOMIC_FAA ->
          atomicWr(p, WrOpcode.ATOMIC_FETCH_AND_ADD).remote(base + 64, rkey).build();
      case QP_WITHOUT_REMOTE_ATOMIC_CAS, MR_NO_ATOMIC_CAS ->
          atomicWr(p, WrOpcode.ATOMIC_CMP_AND_SWP).remote(base + 64, rkey).build();
      case BAD_RKEY_WRITE -> writeWr(p, 64).remote(base + 64, rkey + 0x100).build();
      case BAD_RKEY_READ -> readWr(p, 64).remote(base + 64, rkey ^ 0x1).build();
      case OTHER_PD_MR_WRITE, OTHER_PD_MR_ATOMIC -> {
        ProtectionDomain otherPd = await(p.resp.dev.allocPd());
        other = OneSidedFixture.guarded(otherPd, LEN, bad.mrAccess, 8);
        yield bad == Bad.OTHER_PD_MR_WRITE
            ? writeWr(p, 64).remote(other.mr.iova() + 64, other.mr.rkey()).build()
            : atomicWr(p, WrOpcode.ATOMIC_FETCH_AND_ADD).remote(other.mr.iova() + 64, other.mr.rkey()).build();
      }
      case WRITE_ONE_BYTE_BEFORE -> writeWr(p, 64).remote(base - 1, rkey).build();
      case WRITE_ONE_BYTE_PAST -> writeWr(p, 64).remote(base + LEN - 63, rkey).build();
      case READ_ONE_BYTE_BEFORE -> readWr(p, 64).remote(base - 1, rkey).build();
      case READ_ONE_BYTE_PAST -> readWr(p, 64).remote(base + LEN - 63, rkey).build();
      case ATOMIC_PAST_THE_END -> atomicWr(p, WrOpcode.ATOMIC_FETCH_AND_ADD).remote(base + LEN, rkey).build();
      case ATOMIC_BEFORE_THE_START -> atomicWr(p, WrOpcode.ATOMIC_CMP_AND_SWP).remote(base - 8, rkey).build();
      case MISALIGNED_FAA -> atomicWr(p, WrOpcode.ATOMIC_FETCH_AND_ADD).remote(base + 68, rkey).build();
      case MISALIGNED_CAS -> atomicWr(p, WrOpcode.ATOMIC_CMP_AND_SWP).remote(base + 1, rkey).build();
    };
    byte[] before = p.target.snapshot();
    byte[] otherBefore = other == null ? null : other.snapshot();
    SendWr after = SendWr.builder(WrOpcode.RDMA_WRITE).wrId(2).sge(Sge.of(p.req.mr, 0, 32))
        .remote(base + 1024, rkey).build();
    p.req.qp.postSend(List.of(new SendWr(1, null, wr.opcode(), wr.flags(), wr.sgList(), 0, wr.remoteAddr(),
        wr.rkey(), wr.compareAdd(), wr.swap(), 0, null, 0, 0, null, 0, 0), after));
    List<WorkCompletion> wcs = poll(p.req.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(bad.expected, wcs.get(0).status(), () -> "completion " + wcs.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(p.req.qp, QpState.ERR);
    awaitState(p.resp.qp, QpState.ERR);
    p.target.assertUnchanged(before, bad + ": target region and guards");
    if (other != null) {
      other.assertUnchanged(otherBefore, bad + ": the other PD's region and guards");
    }
    assertArrayEquals(localBefore, read(p.req.mr, 0, 65536), bad + ": the requester's local buffer");
    assertCqEmpty(p.resp.cq);
  }

  private static void resetAndReconnect(Pair p) throws Exception {
    QpAttr reset = QpAttr.builder().qpState(QpState.RESET).build();
    await(p.req.qp.modify(reset, QpAttrMask.STATE));
    await(p.resp.qp.modify(reset, QpAttrMask.STATE));
    ConformanceFixture.connect(p.req, p.resp);
    ConformanceFixture.quiesce(p.req);
    ConformanceFixture.quiesce(p.resp);
  }

  @Test
  @DisplayName("a deregistered MR's rkey never works again (WRITE, READ, atomic), even after a new MR takes its slot")
  void deregisteredRkeyNeverWorks() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    Guarded old = OneSidedFixture.guarded(p.resp.pd, 256, OneSidedFixture.MR_ALL, 12);
    // It works while registered.
    fill(p.req.mr, 0, 64, 13);
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(p.req.mr, 0, 64))
        .remote(old.mr.iova(), old.mr.rkey()).build());
    assertOk(pollOne(p.req.cq));
    ConformanceFixture.assertBytes(read(p.req.mr, 0, 64), old.mr, 0, "write while registered");
    int oldRkey = old.mr.rkey();
    long oldIova = old.mr.iova();
    await(old.mr.deregister());
    Guarded fresh = OneSidedFixture.guarded(p.resp.pd, 256, OneSidedFixture.MR_ALL, 14);
    byte[] oldBefore = old.snapshot();
    byte[] freshBefore = fresh.snapshot();
    WrOpcode[] ops = {WrOpcode.RDMA_WRITE, WrOpcode.RDMA_READ, WrOpcode.ATOMIC_FETCH_AND_ADD};
    for (int i = 0; i < ops.length; i++) {
      SendWr.Builder b = SendWr.builder(ops[i]).wrId(10 + i).remote(oldIova, oldRkey);
      if (ops[i] == WrOpcode.RDMA_WRITE) {
        b.sge(Sge.of(p.req.mr, 0, 64));
      } else if (ops[i] == WrOpcode.RDMA_READ) {
        b.sge(Sge.of(p.req.mr, 1024, 64));
      } else {
        b.sge(Sge.of(p.req.mr, 2048, 8)).atomic(1, 0);
      }
      p.req.qp.postSend(b.build());
      WorkCompletion wc = pollOne(p.req.cq);
      assertEquals(WcStatus.REM_ACCESS_ERR, wc.status(), () -> ops[0] + " with the old rkey: " + wc);
      awaitState(p.req.qp, QpState.ERR);
      awaitState(p.resp.qp, QpState.ERR);
      old.assertUnchanged(oldBefore, "the deregistered region");
      fresh.assertUnchanged(freshBefore, "the new region (key 0x" + Integer.toHexString(fresh.mr.rkey())
          + ", old 0x" + Integer.toHexString(oldRkey) + ")");
      resetAndReconnect(p);
    }
    // The new region's own key works.
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(20).sge(Sge.of(p.req.mr, 0, 64))
        .remote(fresh.mr.iova(), fresh.mr.rkey()).build());
    assertOk(pollOne(p.req.cq));
    ConformanceFixture.assertBytes(read(p.req.mr, 0, 64), fresh.mr, 0, "write to the new region");
  }

  @Test
  @DisplayName("an atomic whose local SGEs total != 8 bytes (0, 4, 16) is refused at post with INVALID; 4 + 4 is accepted")
  void atomicLocalLengthRefusedAtPost() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    for (WrOpcode op : new WrOpcode[] {WrOpcode.ATOMIC_FETCH_AND_ADD, WrOpcode.ATOMIC_CMP_AND_SWP}) {
      for (int len : new int[] {0, 4, 16}) {
        SendWr.Builder b = SendWr.builder(op).wrId(1).remote(p.addr(0), p.rkey()).atomic(1, 2);
        if (len > 0) {
          b.sge(Sge.of(p.req.mr, 0, len));
        }
        SendWr wr = b.build();
        PostException e = assertThrows(PostException.class, () -> p.req.qp.postSend(wr), op + " with " + len);
        assertEquals(PostException.Reason.INVALID, e.reason());
        assertEquals(0, e.badIndex());
      }
    }
    assertEquals(QpState.RTS, p.req.qp.state());
    p.target.mr.buffer().putLong(0, 0x1122334455667788L);
    p.req.qp.postSend(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(2)
        .sges(Sge.of(p.req.mr, 100, 4), Sge.of(p.req.mr, 200, 4)).remote(p.addr(0), p.rkey()).atomic(1, 0).build());
    WorkCompletion wc = pollOne(p.req.cq);
    assertOk(wc);
    assertEquals(2, wc.wrId(), "nothing refused was posted");
    ConformanceFixture.assertBytes(new byte[] {0x11, 0x22, 0x33, 0x44}, p.req.mr, 100, "first half of the original");
    ConformanceFixture.assertBytes(new byte[] {0x55, 0x66, 0x77, (byte) 0x88}, p.req.mr, 200, "second half of the original");
    assertEquals(0x1122334455667789L, p.target.mr.buffer().getLong(0));
    assertCqEmpty(p.req.cq);
  }

  @Test
  @DisplayName("a READ (or WRITE) larger than the port's max_msg_sz (8 MiB) is refused at post with INVALID; exactly 8 MiB works")
  void readLargerThanMaxMsgRefused() throws Exception {
    int max = 8 << 20;
    ConformanceFixture.Side a = f.side(64, 16, null);
    ConformanceFixture.Side b = f.side(64, 16, null);
    ConformanceFixture.createQp(a, dev.midlayer.ib.QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(b, dev.midlayer.ib.QpType.RC, OneSidedFixture.CAP, true);
    MemoryRegion local = await(a.pd.registerMr(ByteBuffer.allocateDirect(max + 1), AccessFlags.LOCAL_WRITE));
    MemoryRegion remote = await(b.pd.registerMr(ByteBuffer.allocateDirect(max + 1), OneSidedFixture.MR_ALL));
    ConformanceFixture.connect(a, b);
    for (WrOpcode op : new WrOpcode[] {WrOpcode.RDMA_READ, WrOpcode.RDMA_WRITE}) {
      SendWr tooBig = SendWr.builder(op).wrId(1).sge(Sge.of(local, 0, max + 1)).remote(remote.iova(), remote.rkey())
          .build();
      PostException e = assertThrows(PostException.class, () -> a.qp.postSend(tooBig));
      assertEquals(PostException.Reason.INVALID, e.reason());
      SendWr split = SendWr.builder(op).wrId(1).sges(Sge.of(local, 0, max), Sge.of(local, 0, 1))
          .remote(remote.iova(), remote.rkey()).build();
      assertEquals(PostException.Reason.INVALID, assertThrows(PostException.class, () -> a.qp.postSend(split)).reason());
    }
    remote.buffer().put(max - 1, (byte) 0x5E);
    a.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(2).sge(Sge.of(local, 0, max))
        .remote(remote.iova(), remote.rkey()).build());
    WorkCompletion wc = pollOne(a.cq);
    assertOk(wc);
    assertEquals(2, wc.wrId());
    assertEquals((byte) 0x5E, local.buffer().get(max - 1));
  }

  // ---- from OneSidedResponderErrorTest ----
  @Test
  @DisplayName("a bad-rkey RDMA_WRITE (no receive involved): the responder's posted receives are flushed when it enters ERR")
  void badWriteFlushesResponderReceives() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    p.resp.qp.postRecv(RecvWr.of(300, Sge.of(p.resp.mr, 0, 64)));
    p.resp.qp.postRecv(RecvWr.of(301, Sge.of(p.resp.mr, 64, 64)));
    byte[] before = p.target.snapshot();
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(p.req.mr, 0, 16))
        .remote(p.addr(0), p.rkey() + 0x100).build());
    assertEquals(WcStatus.REM_ACCESS_ERR, pollOne(p.req.cq).status());
    List<WorkCompletion> r = poll(p.resp.cq, 2);
    assertEquals(List.of(300L, 301L), wrIds(r));
    r.forEach(wc -> assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc.toString()));
    awaitState(p.resp.qp, QpState.ERR);
    p.target.assertUnchanged(before, "bad-rkey write");
  }

  @Test
  @DisplayName("a bad-rkey RDMA_WRITE_WITH_IMM with a receive posted (class C, §8.4): the current RQ WQE completes with an error, not a flush; the rest are flushed")
  void badWriteWithImmCompletesCurrentWqeWithError() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    p.resp.qp.postRecv(RecvWr.of(300, Sge.of(p.resp.mr, 0, 64)));
    p.resp.qp.postRecv(RecvWr.of(301, Sge.of(p.resp.mr, 64, 64)));
    byte[] before = p.target.snapshot();
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(1).immData(3).sge(Sge.of(p.req.mr, 0, 16))
        .remote(p.addr(0), p.rkey() + 0x100).build());
    assertEquals(WcStatus.REM_ACCESS_ERR, pollOne(p.req.cq).status());
    List<WorkCompletion> r = poll(p.resp.cq, 2);
    assertEquals(List.of(300L, 301L), wrIds(r));
    assertNotEquals(WcStatus.SUCCESS, r.get(0).status(), r.get(0).toString());
    assertNotEquals(WcStatus.WR_FLUSH_ERR, r.get(0).status(),
        "the WQE the WRITE_WITH_IMM took completes with its error (rxe: REM_ACCESS_ERR): " + r.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, r.get(1).status());
    p.target.assertUnchanged(before, "bad-rkey write with immediate");
  }

  @Test
  @DisplayName("UC RDMA_WRITE with a bad rkey or out of range is dropped silently: requester SUCCESS, nothing written, both QPs stay RTS")
  void ucBadWriteDropped() throws Exception {
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.UC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(b, QpType.UC, OneSidedFixture.CAP, true);
    Guarded t = OneSidedFixture.guarded(b.pd, 1024, OneSidedFixture.MR_ALL, 4);
    ConformanceFixture.connect(a, b);
    fill(a.mr, 0, 256, 21);
    byte[] before = t.snapshot();
    b.qp.postRecv(RecvWr.of(70, Sge.of(b.mr, 0, 16)));
    a.qp.postSend(List.of(
        SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(a.mr, 0, 64)).remote(t.mr.iova(), t.mr.rkey() + 0x100)
            .build(),
        SendWr.builder(WrOpcode.RDMA_WRITE).wrId(2).sge(Sge.of(a.mr, 0, 64)).remote(t.mr.iova() + 1000, t.mr.rkey())
            .build(),
        SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(3).sge(Sge.of(a.mr, 0, 64))
            .remote(t.mr.iova() - 1, t.mr.rkey()).build()));
    poll(a.cq, 3).forEach(ConformanceFixture::assertOk);
    // A good write afterwards lands: the dropped ones left the QPs working.
    a.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(4).sge(Sge.of(a.mr, 0, 8)).remote(t.mr.iova() + 8,
        t.mr.rkey()).build());
    assertOk(pollOne(a.cq));
    ConformanceFixture.awaitTrue("the good UC write to land",
        () -> java.util.Arrays.equals(ConformanceFixture.read(a.mr, 0, 8), ConformanceFixture.read(t.mr, 8, 8)));
    byte[] now = t.snapshot();
    System.arraycopy(before, 0, now, 0, 0);
    for (int i = 0; i < now.length; i++) {
      int regionOff = i - OneSidedFixture.GUARD;
      if (regionOff >= 8 && regionOff < 16) {
        continue;
      }
      assertEquals(before[i], now[i], "byte at outer offset " + i);
    }
    assertEquals(QpState.RTS, a.qp.state());
    assertEquals(QpState.RTS, b.qp.state());
    assertCqEmpty(b.cq);
  }
}
