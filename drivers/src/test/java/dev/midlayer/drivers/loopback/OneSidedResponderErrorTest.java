package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.assertCqEmpty;
import static dev.midlayer.drivers.loopback.DpFixture.assertOk;
import static dev.midlayer.drivers.loopback.DpFixture.awaitState;
import static dev.midlayer.drivers.loopback.DpFixture.fill;
import static dev.midlayer.drivers.loopback.DpFixture.poll;
import static dev.midlayer.drivers.loopback.DpFixture.pollOne;
import static dev.midlayer.drivers.loopback.DpFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.midlayer.drivers.loopback.OneSidedFixture.Guarded;
import dev.midlayer.drivers.loopback.OneSidedFixture.Pair;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The responder's side of one-sided errors: its receive queue, and UC's silent drops. */
class OneSidedResponderErrorTest {
  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("one-sided-responder-error");
  }

  @AfterEach
  void stop() {
    f.close();
  }

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
    DpFixture.Side a = f.side(64, 4096, null);
    DpFixture.Side b = f.side(64, 4096, null);
    DpFixture.createQp(a, QpType.UC, OneSidedFixture.CAP, true);
    DpFixture.createQp(b, QpType.UC, OneSidedFixture.CAP, true);
    Guarded t = OneSidedFixture.guarded(b.pd, 1024, OneSidedFixture.MR_ALL, 4);
    DpFixture.connect(a, b);
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
    poll(a.cq, 3).forEach(DpFixture::assertOk);
    // A good write afterwards lands: the dropped ones left the QPs working.
    a.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(4).sge(Sge.of(a.mr, 0, 8)).remote(t.mr.iova() + 8,
        t.mr.rkey()).build());
    assertOk(pollOne(a.cq));
    DpFixture.awaitTrue("the good UC write to land",
        () -> java.util.Arrays.equals(DpFixture.read(a.mr, 0, 8), DpFixture.read(t.mr, 8, 8)));
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
