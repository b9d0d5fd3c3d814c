package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertBytes;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.Device;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * RDMA WRITE and WRITE_WITH_IMM on RC (see the IB spec sections below).
 *
 * <p>Seed rules: C1/C2 (one-sided posts never sleep). IB spec: IBA vol. 1 §9.4.3 (RDMA WRITE), §9.4.1.1
 * (immediate data), §10.6 (memory protection checks at the responder).
 */
public abstract class OneSidedWriteContract extends DriverContract {
  @Test
  @DisplayName("RDMA_WRITE: the data lands at the remote address; no completion and no receive consumed at the responder")
  void writeLandsWithoutResponderCompletion() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    fill(p.req.mr, 100, 300, 17);
    p.resp.qp.postRecv(RecvWr.of(900, Sge.of(p.resp.mr, 0, 64)));
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(p.req.mr, 100, 300))
        .remote(p.addr(1000), p.rkey()).build());
    WorkCompletion wc = pollOne(p.req.cq);
    assertOk(wc);
    assertEquals(1, wc.wrId());
    assertEquals(WcOpcode.RDMA_WRITE, wc.opcode());
    assertBytes(read(p.req.mr, 100, 300), p.target.mr, 1000, "written bytes");
    // The bytes around the write are the original pattern, and the guards are intact.
    byte[] before = new byte[1000];
    for (int i = 0; i < before.length; i++) {
      before[i] = ConformanceFixture.pattern(3, i);
    }
    assertBytes(before, p.target.mr, 0, "bytes before the write");
    assertEquals(ConformanceFixture.pattern(3, 1300), p.target.mr.buffer().get(1300));
    p.target.assertGuards("after a WRITE");
    assertCqEmpty(p.resp.cq);
    // The posted receive was not consumed: a SEND now completes it (it is still the first one).
    p.req.qp.postSend(SendWr.send(2, 0, Sge.of(p.req.mr, 0, 8)));
    assertOk(pollOne(p.req.cq));
    WorkCompletion r = pollOne(p.resp.cq);
    assertOk(r);
    assertEquals(900, r.wrId());
    assertEquals(WcOpcode.RECV, r.opcode());
  }

  @Test
  @DisplayName("RDMA_WRITE_WITH_IMM: consumes a receive (its buffers untouched); WC RECV_RDMA_WITH_IMM, WITH_IMM, imm, byte_len = write length")
  void writeWithImmConsumesReceive() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    fill(p.req.mr, 0, 200, 5);
    ConformanceFixture.fillConst(p.resp.mr, 0, 512, (byte) 0x3C);
    p.resp.qp.postRecv(RecvWr.of(901, Sge.of(p.resp.mr, 0, 512)));
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(7).immData(0x12345678)
        .sge(Sge.of(p.req.mr, 0, 200)).remote(p.addr(64), p.rkey()).build());
    WorkCompletion s = pollOne(p.req.cq);
    assertOk(s);
    assertEquals(WcOpcode.RDMA_WRITE, s.opcode());
    WorkCompletion r = pollOne(p.resp.cq);
    assertOk(r);
    assertEquals(901, r.wrId());
    assertEquals(WcOpcode.RECV_RDMA_WITH_IMM, r.opcode());
    assertTrue((r.wcFlags() & WcFlags.WITH_IMM) != 0, () -> "WITH_IMM flag in " + r);
    assertEquals(0x12345678, r.immData());
    assertEquals(200, r.byteLen());
    assertBytes(read(p.req.mr, 0, 200), p.target.mr, 64, "written bytes");
    byte[] untouched = new byte[512];
    java.util.Arrays.fill(untouched, (byte) 0x3C);
    assertBytes(untouched, p.resp.mr, 0, "the receive's buffer");
    p.target.assertGuards("after WRITE_WITH_IMM");
    assertCqEmpty(p.resp.cq);
  }

  @Test
  @DisplayName("RDMA_WRITE_WITH_IMM of zero bytes with no SGE still consumes a receive and reports byte_len 0")
  void zeroLengthWriteWithImm() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    byte[] before = p.target.snapshot();
    p.resp.qp.postRecv(RecvWr.of(902, Sge.of(p.resp.mr, 0, 64)));
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(8).immData(42)
        .remote(p.addr(0), p.rkey()).build());
    assertOk(pollOne(p.req.cq));
    WorkCompletion r = pollOne(p.resp.cq);
    assertOk(r);
    assertEquals(WcOpcode.RECV_RDMA_WITH_IMM, r.opcode());
    assertEquals(42, r.immData());
    assertEquals(0, r.byteLen());
    p.target.assertUnchanged(before, "zero-length WRITE_WITH_IMM");
  }

  @Test
  @DisplayName("RDMA_WRITE_WITH_IMM with no receive posted: RNR NAKs, RNR_RETRY_EXC_ERR at rnr_retry 2, nothing written, responder RTS")
  void writeWithImmRnr() throws Exception {
    QpConnect.Params rnr2 = OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 16, 2);
    Pair p = OneSidedFixture.pair(f, 65536, 4096, OneSidedFixture.MR_ALL, OneSidedFixture.ALL_REMOTE, rnr2);
    byte[] before = p.target.snapshot();
    fill(p.req.mr, 0, 100, 9);
    p.req.qp.postSend(List.of(
        SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(1).immData(1).sge(Sge.of(p.req.mr, 0, 100))
            .remote(p.addr(0), p.rkey()).build(),
        SendWr.builder(WrOpcode.RDMA_WRITE).wrId(2).sge(Sge.of(p.req.mr, 0, 100))
            .remote(p.addr(200), p.rkey()).build()));
    List<WorkCompletion> wcs = poll(p.req.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(WcStatus.RNR_RETRY_EXC_ERR, wcs.get(0).status());
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(p.req.qp, QpState.ERR);
    assertEquals(QpState.RTS, p.resp.qp.state(), "an RNR is not the responder's error");
    p.target.assertUnchanged(before, "a WRITE_WITH_IMM that met only RNR NAKs");
    assertCqEmpty(p.resp.cq);
  }

  @Test
  @DisplayName("RDMA_WRITE_WITH_IMM waits through RNR NAKs (rnr_retry 7) and lands once a receive is posted")
  void writeWithImmRnrThenReceive() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    fill(p.req.mr, 0, 100, 11);
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(1).immData(5).sge(Sge.of(p.req.mr, 0, 100))
        .remote(p.addr(8), p.rkey()).build());
    // It meets RNR NAKs: a control pair between the same devices exhausts rnr_retry 6 meanwhile (a fence,
    // not a wait), and this WRITE_WITH_IMM (rnr_retry 7) has not failed.
    f.rnrFence(p.req.dev, p.resp.dev);
    assertCqEmpty(p.req.cq);
    p.resp.qp.postRecv(RecvWr.of(903, Sge.of(p.resp.mr, 0, 8)));
    assertOk(pollOne(p.req.cq));
    WorkCompletion r = pollOne(p.resp.cq);
    assertOk(r);
    assertEquals(100, r.byteLen());
    assertBytes(read(p.req.mr, 0, 100), p.target.mr, 8, "written bytes");
  }

  @Test
  @DisplayName("ordering: a WRITE then a SEND on one QP: when the SEND's receive completes, the written data is in the target memory")
  void writeThenSendOrdering() throws Exception {
    Pair p = OneSidedFixture.pair(f, 65536, 65536, OneSidedFixture.MR_ALL, OneSidedFixture.ALL_REMOTE,
        ConformanceFixture.RELIABLE);
    for (int round = 0; round < 20; round++) {
      fill(p.req.mr, 0, 32768, 100 + round);
      p.resp.qp.postRecv(RecvWr.of(round, Sge.of(p.resp.mr, 0, 64)));
      p.req.qp.postSend(List.of(
          SendWr.builder(WrOpcode.RDMA_WRITE).wrId(2L * round).sge(Sge.of(p.req.mr, 0, 32768))
              .remote(p.addr(1024), p.rkey()).build(),
          SendWr.send(2L * round + 1, 0, Sge.of(p.req.mr, 40000, 16))));
      WorkCompletion r = pollOne(p.resp.cq);
      // Checked before anything else: the SEND's receive is complete, so the WRITE before it must be visible.
      assertBytes(read(p.req.mr, 0, 32768), p.target.mr, 1024, "round " + round + ": written bytes at the SEND's receive");
      assertOk(r);
      assertEquals(round, r.wrId());
      List<WorkCompletion> s = poll(p.req.cq, 2);
      s.forEach(ConformanceFixture::assertOk);
      assertEquals(List.of(2L * round, 2L * round + 1), wrIds(s));
    }
    p.target.assertGuards("after the writes");
  }

  @Test
  @DisplayName("UC RDMA_WRITE and WRITE_WITH_IMM: data lands; WITH_IMM consumes a receive with RECV_RDMA_WITH_IMM")
  void ucWrite() throws Exception {
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, dev.midlayer.ib.QpType.UC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(b, dev.midlayer.ib.QpType.UC, OneSidedFixture.CAP, true);
    OneSidedFixture.Guarded t = OneSidedFixture.guarded(b.pd, 1024, OneSidedFixture.MR_ALL, 4);
    ConformanceFixture.connect(a, b);
    fill(a.mr, 0, 256, 21);
    b.qp.postRecv(RecvWr.of(77, Sge.of(b.mr, 0, 16)));
    a.qp.postSend(List.of(
        SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(a.mr, 0, 128)).remote(t.mr.iova(), t.mr.rkey()).build(),
        SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(2).immData(99).sge(Sge.of(a.mr, 128, 128))
            .remote(t.mr.iova() + 512, t.mr.rkey()).build()));
    poll(a.cq, 2).forEach(ConformanceFixture::assertOk);
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(77, r.wrId());
    assertEquals(WcOpcode.RECV_RDMA_WITH_IMM, r.opcode());
    assertEquals(99, r.immData());
    assertEquals(128, r.byteLen());
    assertBytes(read(a.mr, 0, 128), t.mr, 0, "first write");
    assertBytes(read(a.mr, 128, 128), t.mr, 512, "second write");
    t.assertGuards("UC writes");
    assertCqEmpty(b.cq);
  }
}
