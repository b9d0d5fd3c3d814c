package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.FastRegContract.LW;
import static dev.midlayer.testkit.conformance.FastRegContract.R;
import static dev.midlayer.testkit.conformance.FastRegContract.W;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.context.IllegalContextException;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.Cqe;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.monitor.Check;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * FMRs on the driver under test (see the IB spec sections below; {@code ib_alloc_fmr}, {@code ib_map_phys_fmr},
 * {@code ib_unmap_fmr}): remote access through the key a map returns, keys of earlier maps and of unmapped
 * FMRs dead at once, mapPhys from a completion callback, and the usual protection checks.
 *
 * <p>Seed rules: C4 (FMR alloc, map and unmap may sleep and are called from the test thread), C15 (an
 * unmapped FMR stops resolving at once). IB spec: IBA vol. 1 §10.6 (memory protection).
 */
public abstract class FmrContract extends DriverContract {
  private static final int FMR_ALL = LW | W | R;
  /** New RC QPs on the same two sides (same PDs, CQs and MRs), connected: for after a pair went to ERR. */
  static void freshQps(Pair p) throws Exception {
    ConformanceFixture.createQp(p.req, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(p.resp, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.connect(p.req, p.resp, ConformanceFixture.RELIABLE, OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 16));
  }

  @Test
  @DisplayName("allocFmr + mapPhys: a peer WRITE and READ via the returned key work across pages; after a second "
      + "mapPhys the old key fails REM_ACCESS_ERR (nothing written) and the new one works")
  void mapPhysAndRemap() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = FastRegContract.pool(p.resp.pd, FastRegContract.POOL_PAGES);
    Fmr fmr = await(p.resp.pd.allocFmr(FMR_ALL, 4));
    assertFalse(fmr.isMapped());
    int[] idx = {3, 1};
    long iova = 0x20000 + 200;
    int key = fmr.mapPhys(FastRegContract.pages(pool, idx), iova);
    assertTrue(fmr.isMapped());
    assertEquals(key, fmr.lkey());
    assertEquals(key, fmr.rkey());
    assertEquals(iova, fmr.iova());
    assertEquals(2L * Page.SIZE - 200, fmr.length());

    fill(p.req.mr, 0, 6000, 41);
    byte[] before = FastRegContract.snapshot(pool);
    long addr = iova + 1000;
    assertOk(FastRegContract.write(p.req, 0, 6000, addr, key));
    byte[] after1 = FastRegContract.expectedAfterWrite(before, idx, iova, addr, read(p.req.mr, 0, 6000));
    FastRegContract.assertPool(after1, pool, "WRITE through the FMR");
    assertOk(FastRegContract.readInto(p.req, 10000, 6000, addr, key));
    assertArrayEquals(read(p.req.mr, 0, 6000), read(p.req.mr, 10000, 6000), "READ through the FMR");

    int[] idx2 = {6, 4};
    long iova2 = 0x30000;
    int key2 = fmr.mapPhys(FastRegContract.pages(pool, idx2), iova2);
    assertNotEquals(key, key2);
    assertEquals((key & ~0xff) | ((key + 1) & 0xff), key2, "the variant moves on by one");
    assertEquals(key2, fmr.rkey());
    assertEquals(iova2, fmr.iova());

    fill(p.req.mr, 20000, 100, 42);
    FastRegContract.assertRemoteAccessError(FastRegContract.write(p.req, 20000, 100, addr, key), p.req, p.resp);
    FastRegContract.assertPool(after1, pool, "nothing written with the old key");

    freshQps(p);
    fill(p.req.mr, 30000, 5000, 43);
    assertOk(FastRegContract.write(p.req, 30000, 5000, iova2 + 50, key2));
    FastRegContract.assertPool(FastRegContract.expectedAfterWrite(after1, idx2, iova2, iova2 + 50, read(p.req.mr, 30000, 5000)),
        pool, "WRITE with the new key lands in the new pages");
  }

  @Test
  @DisplayName("unmap: the FMR is unmapped and its last key fails REM_ACCESS_ERR at a peer, nothing written; the next "
      + "map gets a key in a fresh slot, which works")
  void unmapKillsTheKey() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = FastRegContract.pool(p.resp.pd, FastRegContract.POOL_PAGES);
    Fmr fmr = await(p.resp.pd.allocFmr(FMR_ALL, 4));
    int[] idx = {0, 5, 2};
    long iova = 0x70000;
    int key = fmr.mapPhys(FastRegContract.pages(pool, idx), iova);
    fill(p.req.mr, 0, 64, 44);
    assertOk(FastRegContract.write(p.req, 0, 64, iova + 8192, key));
    await(fmr.unmap());
    assertFalse(fmr.isMapped());
    assertEquals(0, fmr.length());
    byte[] before = FastRegContract.snapshot(pool);
    fill(p.req.mr, 100, 64, 45);
    FastRegContract.assertRemoteAccessError(FastRegContract.write(p.req, 100, 64, iova + 8192, key), p.req, p.resp);
    FastRegContract.assertPool(before, pool, "nothing written after unmap");

    // The next map is in a fresh key slot (new upper bits), and its key works.
    int key2 = fmr.mapPhys(FastRegContract.pages(pool, 7), iova);
    assertNotEquals(key >>> 8, key2 >>> 8, "unmap moved the FMR to a fresh key slot");
    freshQps(p);
    fill(p.req.mr, 200, 64, 46);
    assertOk(FastRegContract.write(p.req, 200, 64, iova + 10, key2));
    FastRegContract.assertPool(FastRegContract.expectedAfterWrite(before, new int[] {7}, iova, iova + 10,
        read(p.req.mr, 200, 64)), pool, "WRITE with the key of the map after unmap");
  }

  @Test
  @DisplayName("mapPhys from a completion callback (PollContext.ACTOR Cqe) succeeds and its key works for a following "
      + "peer WRITE; allocFmr from the same callback throws IllegalContextException")
  void mapPhysFromCompletionCallback() throws Exception {
    kit().expectViolations(Check.MAY_SLEEP_IN_ATOMIC); // allocFmr in the callback, refused on purpose
    // The requester side's CQ is polled by its actor: every WR carries a Cqe.
    Device devA = f.addDevice();
    ProtectionDomain pdA = await(devA.allocPd());
    CompletionQueue cqA = await(devA.allocCq(64, PollContext.ACTOR));
    MemoryRegion mrA = await(pdA.registerMr(java.nio.ByteBuffer.allocateDirect(65536), LW));
    ConformanceFixture.Side req = new ConformanceFixture.Side(devA, pdA, cqA, mrA);
    ConformanceFixture.Side resp = f.side(64, 4096, null);
    ConformanceFixture.createQp(req, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(resp, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.connect(req, resp, ConformanceFixture.RELIABLE, OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 16));
    MemoryRegion pool = FastRegContract.pool(resp.pd, FastRegContract.POOL_PAGES);
    Fmr fmr = await(resp.pd.allocFmr(FMR_ALL, 2));
    int[] idx = {4, 7};
    long iova = 0x90000 + 16;

    LinkedBlockingQueue<WorkCompletion> done = new LinkedBlockingQueue<>();
    CompletableFuture<Integer> mapped = new CompletableFuture<>();
    CompletableFuture<Object> alloc = new CompletableFuture<>();
    Cqe record = (cq, wc) -> done.add(wc);
    Cqe mapInCallback = (cq, wc) -> {
      try {
        mapped.complete(fmr.mapPhys(FastRegContract.pages(pool, idx), iova));
      } catch (Throwable t) {
        mapped.completeExceptionally(t);
      }
      try {
        alloc.complete(resp.pd.allocFmr(FMR_ALL, 1));
      } catch (Throwable t) {
        alloc.complete(t);
      }
      done.add(wc);
    };
    // The first WR, whose callback maps the FMR: a SEND into a receive the responder posted.
    resp.qp.postRecv(dev.midlayer.verbs.RecvWr.of(60, Sge.of(resp.mr, 0, 64)));
    req.qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(1).cqe(mapInCallback).sge(Sge.of(mrA, 0, 8)).build());
    WorkCompletion first = done.poll(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS);
    assertNotNull(first, "the first completion's callback ran");
    assertOk(first);
    int key = mapped.get(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS);
    assertInstanceOf(IllegalContextException.class, alloc.get(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS),
        "allocFmr in a completion callback");
    assertTrue(kit().monitor().violations(Check.MAY_SLEEP_IN_ATOMIC).stream()
        .anyMatch(v -> v.message().startsWith("allocFmr")), "the monitor recorded the refused allocFmr (check 3)");
    assertEquals(key, fmr.rkey());

    fill(mrA, 0, 5000, 46);
    byte[] before = FastRegContract.snapshot(pool);
    req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(2).cqe(record).sge(Sge.of(mrA, 0, 5000))
        .remote(iova + 100, key).build());
    WorkCompletion wc = done.poll(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS);
    assertNotNull(wc, "the WRITE's completion");
    assertEquals(2, wc.wrId());
    assertOk(wc);
    FastRegContract.assertPool(FastRegContract.expectedAfterWrite(before, idx, iova, iova + 100, read(mrA, 0, 5000)), pool,
        "WRITE with the key mapped in the callback");
  }

  enum Bad { OTHER_PD, NO_REMOTE_WRITE, ONE_BYTE_BEFORE, ONE_BYTE_PAST }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Bad.class)
  @DisplayName("FMR protection: an FMR of another PD than the responder QP, one without REMOTE_WRITE, a WRITE one "
      + "byte before or past the mapping: REM_ACCESS_ERR, both QPs ERR, no pool byte changed")
  void fmrProtection(Bad bad) throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = FastRegContract.pool(p.resp.pd, FastRegContract.POOL_PAGES);
    ProtectionDomain pd = bad == Bad.OTHER_PD ? await(p.resp.dev.allocPd()) : p.resp.pd;
    int access = bad == Bad.NO_REMOTE_WRITE ? LW | R : FMR_ALL;
    Fmr fmr = await(pd.allocFmr(access, 4));
    int[] idx = {2, 6};
    long iova = 0xA0000 + 512;
    int key = fmr.mapPhys(FastRegContract.pages(pool, idx), iova);
    long len = fmr.length();
    assertEquals(2L * Page.SIZE - 512, len);
    if (bad == Bad.NO_REMOTE_WRITE) {
      assertEquals(key, fmr.rkey(), "REMOTE_READ is a remote right: the rkey is the key");
      // READ is granted.
      assertOk(FastRegContract.readInto(p.req, 40000, 64, iova, key));
    }
    long addr = switch (bad) {
      case OTHER_PD, NO_REMOTE_WRITE -> iova + 100;
      case ONE_BYTE_BEFORE -> iova - 1;
      case ONE_BYTE_PAST -> iova + len - 63;
    };
    fill(p.req.mr, 0, 64, 47);
    byte[] before = FastRegContract.snapshot(pool);
    WorkCompletion wc = FastRegContract.write(p.req, 0, 64, addr, key);
    assertEquals(WcStatus.REM_ACCESS_ERR, wc.status(), () -> bad + ": " + wc);
    FastRegContract.assertRemoteAccessError(wc, p.req, p.resp);
    FastRegContract.assertPool(before, pool, bad + ": pool pages, the unmapped bytes around the mapping included");
  }
}
