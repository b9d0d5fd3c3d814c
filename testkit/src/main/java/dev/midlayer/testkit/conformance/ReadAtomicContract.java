package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertBytes;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fillConst;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.device.Device;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * RDMA READ and the two atomics on RC, one requester (see the IB spec sections below).
 *
 * <p>Seed rules: C1/C2, C5 and C6 (atomics posted from several threads at once are each applied once). IB
 * spec: IBA vol. 1 §9.4.4 (RDMA READ), §9.4.5 (ATOMIC: big-endian, 8-byte aligned), §9.5 (max_rd_atomic,
 * fence).
 */
public abstract class ReadAtomicContract extends DriverContract {
  // ---- from OneSidedReadAtomicTest ----
  private Pair p;

  @BeforeEach
  void start() throws Exception {
    p = OneSidedFixture.pair(f);
  }

  @Test
  @DisplayName("RDMA_READ: the requester's SGE holds the remote bytes when its WC (RDMA_READ) is polled; remote unchanged")
  void readFillsLocalBeforeCompletion() throws Exception {
    byte[] before = p.target.snapshot();
    for (int round = 0; round < 10; round++) {
      fillConst(p.req.mr, 0, 4096, (byte) 0);
      int off = 37 * round;
      p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(round).sge(Sge.of(p.req.mr, 512, 1500))
          .remote(p.addr(off), p.rkey()).build());
      WorkCompletion wc = pollOne(p.req.cq);
      assertBytes(read(p.target.mr, off, 1500), p.req.mr, 512, "round " + round + ": read bytes at the WC");
      assertOk(wc);
      assertEquals(WcOpcode.RDMA_READ, wc.opcode());
      byte[] zeros = new byte[512];
      assertBytes(zeros, p.req.mr, 0, "local bytes before the SGE");
      assertBytes(zeros, p.req.mr, 2012, "local bytes after the SGE");
    }
    p.target.assertUnchanged(before, "READs do not change the remote memory");
  }

  @Test
  @DisplayName("RDMA_READ scatters across several local SGEs in order; the gaps between them are untouched")
  void readScattersAcrossSges() throws Exception {
    fillConst(p.req.mr, 0, 8192, (byte) 0x77);
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(3)
        .sges(Sge.of(p.req.mr, 100, 10), Sge.of(p.req.mr, 2000, 1), Sge.of(p.req.mr, 50, 40),
            Sge.of(p.req.mr, 4000, 949))
        .remote(p.addr(3000), p.rkey()).build());
    WorkCompletion wc = pollOne(p.req.cq);
    byte[] src = read(p.target.mr, 3000, 1000);
    assertBytes(Arrays.copyOfRange(src, 0, 10), p.req.mr, 100, "SGE 0");
    assertBytes(Arrays.copyOfRange(src, 10, 11), p.req.mr, 2000, "SGE 1");
    assertBytes(Arrays.copyOfRange(src, 11, 51), p.req.mr, 50, "SGE 2");
    assertBytes(Arrays.copyOfRange(src, 51, 1000), p.req.mr, 4000, "SGE 3");
    assertOk(wc);
    byte[] c = new byte[10];
    Arrays.fill(c, (byte) 0x77);
    assertBytes(c, p.req.mr, 90, "gap before SGE 0");
    assertBytes(c, p.req.mr, 110, "gap after SGE 0");
    assertBytes(new byte[] {0x77}, p.req.mr, 1999, "byte before SGE 1");
    assertBytes(new byte[] {0x77}, p.req.mr, 2001, "byte after SGE 1");
    assertBytes(new byte[] {0x77}, p.req.mr, 4949, "byte after SGE 3");
    assertBytes(new byte[] {0x77}, p.req.mr, 49, "byte before SGE 2");
  }

  @Test
  @DisplayName("zero-length RDMA_WRITE and RDMA_READ (no SGE) complete successfully and change nothing")
  void zeroLength() throws Exception {
    byte[] before = p.target.snapshot();
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).remote(p.addr(0), p.rkey()).build());
    WorkCompletion w = pollOne(p.req.cq);
    assertOk(w);
    assertEquals(WcOpcode.RDMA_WRITE, w.opcode());
    p.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(2).remote(p.addr(0), p.rkey()).build());
    WorkCompletion r = pollOne(p.req.cq);
    assertOk(r);
    assertEquals(WcOpcode.RDMA_READ, r.opcode());
    p.target.assertUnchanged(before, "zero-length one-sided operations");
    ConformanceFixture.assertCqEmpty(p.resp.cq);
  }

  private WorkCompletion atomic(WrOpcode op, long wrId, int remoteOff, int localOff, long cmpOrAdd, long swap) {
    p.req.qp.postSend(SendWr.builder(op).wrId(wrId).sge(Sge.of(p.req.mr, localOff, 8))
        .remote(p.addr(remoteOff), p.rkey()).atomic(cmpOrAdd, swap).build());
    return pollOne(p.req.cq);
  }

  @Test
  @DisplayName("ATOMIC_CMP_AND_SWP, match: the remote 8 bytes (big-endian) are swapped; the original value lands big-endian in the local SGE")
  void casMatch() throws Exception {
    p.target.mr.buffer().putLong(16, 0x0102030405060708L);
    WorkCompletion wc = atomic(WrOpcode.ATOMIC_CMP_AND_SWP, 1, 16, 40, 0x0102030405060708L, -5L);
    assertOk(wc);
    assertEquals(WcOpcode.COMP_SWAP, wc.opcode());
    assertEquals(0x0102030405060708L, p.req.mr.buffer().getLong(40), "original value in the local SGE");
    assertBytes(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, p.req.mr, 40, "big-endian order of the original");
    assertEquals(-5L, OneSidedFixture.getLong(p.target, 16));
    assertEquals(ConformanceFixture.pattern(3, 15), p.target.mr.buffer().get(15), "byte before the atomic");
    assertEquals(ConformanceFixture.pattern(3, 24), p.target.mr.buffer().get(24), "byte after the atomic");
    p.target.assertGuards("after CMP_AND_SWP");
  }

  @Test
  @DisplayName("ATOMIC_CMP_AND_SWP, mismatch: the remote value is unchanged; the original value is returned")
  void casMismatch() throws Exception {
    p.target.mr.buffer().putLong(4088, 1234L);
    WorkCompletion wc = atomic(WrOpcode.ATOMIC_CMP_AND_SWP, 2, 4088, 0, 1235L, 99L);
    assertOk(wc);
    assertEquals(WcOpcode.COMP_SWAP, wc.opcode());
    assertEquals(1234L, p.req.mr.buffer().getLong(0));
    assertEquals(1234L, OneSidedFixture.getLong(p.target, 4088));
    p.target.assertGuards("after a failed CMP_AND_SWP at the region's last 8 bytes");
  }

  @Test
  @DisplayName("ATOMIC_FETCH_AND_ADD: adds (wrapping, negative addends too) and returns the original value")
  void fetchAndAdd() throws Exception {
    p.target.mr.buffer().putLong(0, 10L);
    WorkCompletion wc = atomic(WrOpcode.ATOMIC_FETCH_AND_ADD, 3, 0, 8, 32L, 0);
    assertOk(wc);
    assertEquals(WcOpcode.FETCH_ADD, wc.opcode());
    assertEquals(10L, p.req.mr.buffer().getLong(8));
    assertEquals(42L, OneSidedFixture.getLong(p.target, 0));
    assertOk(atomic(WrOpcode.ATOMIC_FETCH_AND_ADD, 4, 0, 16, -50L, 0));
    assertEquals(42L, p.req.mr.buffer().getLong(16));
    assertEquals(-8L, OneSidedFixture.getLong(p.target, 0));
    p.target.mr.buffer().putLong(8, Long.MAX_VALUE);
    assertOk(atomic(WrOpcode.ATOMIC_FETCH_AND_ADD, 5, 8, 24, 1L, 0));
    assertEquals(Long.MAX_VALUE, p.req.mr.buffer().getLong(24));
    assertEquals(Long.MIN_VALUE, OneSidedFixture.getLong(p.target, 8));
    p.target.assertGuards("after FETCH_AND_ADD");
  }

  // ---- from OneSidedRdAtomicLimitTest ----
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
    wcs.forEach(ConformanceFixture::assertOk);
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
      wcs.forEach(ConformanceFixture::assertOk);
      assertEquals(List.of(10L * round, 10L * round + 1, 10L * round + 2, 10L * round + 3, 10L * round + 9),
          wrIds(wcs));
      WorkCompletion r = pollOne(p.resp.cq);
      ConformanceFixture.assertOk(r);
      assertEquals(1024, r.byteLen());
      assertBytes(read(p.target.mr, round, 1024), p.resp.mr, 0, "round " + round + ": the fenced SEND's payload");
    }
  }
}
