package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.assertBytes;
import static dev.midlayer.drivers.loopback.DpFixture.fillConst;
import static dev.midlayer.drivers.loopback.DpFixture.poll;
import static dev.midlayer.drivers.loopback.DpFixture.pollOne;
import static dev.midlayer.drivers.loopback.DpFixture.read;
import static dev.midlayer.drivers.loopback.DpFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.drivers.loopback.OneSidedFixture.Pair;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** max_rd_atomic and FENCE at the requester: a WR is held back, never failed. */
class OneSidedRdAtomicLimitTest {
  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("one-sided-rd-atomic");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  @DisplayName("max_rd_atomic 1: 16 READs (and atomics) posted at once all complete successfully, in order, with their data")
  void maxRdAtomicOneHoldsBack() throws Exception {
    Pair p = OneSidedFixture.pair(f, 65536, 4096, OneSidedFixture.MR_ALL, OneSidedFixture.ALL_REMOTE,
        OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 1));
    fillConst(p.req.mr, 0, 65536, (byte) 0);
    List<SendWr> wrs = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      wrs.add(SendWr.builder(WrOpcode.RDMA_READ).wrId(i).sge(Sge.of(p.req.mr, 1024L * i, 200))
          .remote(p.addr(100L * i), p.rkey()).build());
    }
    p.target.mr.buffer().putLong(4000, 0);
    for (int i = 0; i < 4; i++) {
      wrs.add(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(16 + i).sge(Sge.of(p.req.mr, 20000 + 8L * i, 8))
          .remote(p.addr(4000), p.rkey()).atomic(1, 0).build());
    }
    p.req.qp.postSend(wrs);
    List<WorkCompletion> wcs = poll(p.req.cq, 20);
    List<Long> expected = new ArrayList<>();
    for (long i = 0; i < 20; i++) {
      expected.add(i);
    }
    assertEquals(expected, wrIds(wcs));
    wcs.forEach(DpFixture::assertOk);
    for (int i = 0; i < 16; i++) {
      assertEquals(WcOpcode.RDMA_READ, wcs.get(i).opcode());
      assertBytes(read(p.target.mr, 100 * i, 200), p.req.mr, 1024 * i, "READ " + i);
    }
    for (int i = 0; i < 4; i++) {
      assertEquals(i, p.req.mr.buffer().getLong(20000 + 8 * i), "FETCH_AND_ADD " + i + " original");
    }
    assertEquals(4, p.target.mr.buffer().getLong(4000));
  }

  @Test
  @DisplayName("FENCE: a fenced SEND of the bytes READs just fetched carries the read data and completes after the READs")
  void fencedSendAfterReads() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    for (int round = 0; round < 10; round++) {
      fillConst(p.req.mr, 0, 4096, (byte) 0);
      p.resp.qp.postRecv(RecvWr.of(500 + round, Sge.of(p.resp.mr, 0, 4096)));
      List<SendWr> wrs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        wrs.add(SendWr.builder(WrOpcode.RDMA_READ).wrId(10L * round + i).sge(Sge.of(p.req.mr, 256L * i, 256))
            .remote(p.addr(256L * i + round), p.rkey()).build());
      }
      wrs.add(SendWr.builder(WrOpcode.SEND).wrId(10L * round + 9).flags(SendFlags.FENCE)
          .sge(Sge.of(p.req.mr, 0, 1024)).build());
      p.req.qp.postSend(wrs);
      List<WorkCompletion> wcs = poll(p.req.cq, 5);
      wcs.forEach(DpFixture::assertOk);
      assertEquals(List.of(10L * round, 10L * round + 1, 10L * round + 2, 10L * round + 3, 10L * round + 9),
          wrIds(wcs));
      WorkCompletion r = pollOne(p.resp.cq);
      DpFixture.assertOk(r);
      assertEquals(1024, r.byteLen());
      assertBytes(read(p.target.mr, round, 1024), p.resp.mr, 0, "round " + round + ": the fenced SEND's payload");
    }
  }
}
