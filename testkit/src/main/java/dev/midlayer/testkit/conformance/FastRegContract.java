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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.OneSidedFixture.Pair;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.MrType;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Fast registration on the driver under test (see the IB spec sections below; rxe's {@code rxe_reg_fast_mr} and
 * {@code rxe_invalidate_mr}): allocMr + mapPages + REG_MR over pages of a USER "page pool", the key rules
 * (FREE regions, key rotation, stale variants), LOCAL_INV, the post-time refusals and the snapshot of the
 * page list at post time. The pool has no remote rights: every remote access goes through the fast-reg key.
 *
 * <p>The static helpers are shared with {@link InvalidateContract} and {@link FmrContract}.
 *
 * <p>Seed rules: C1/C2 (REG_MR and LOCAL_INV are posted, never sleep), C4 (allocMr may sleep). IB spec:
 * IBA vol. 1 §10.6.3 (fast registration, FREE and VALID regions), §10.6.5 (invalidation), §10.6.3.5 (key
 * rotation).
 */
public abstract class FastRegContract extends DriverContract {
  static final int W = AccessFlags.REMOTE_WRITE;
  static final int R = AccessFlags.REMOTE_READ;
  static final int A = AccessFlags.REMOTE_ATOMIC;
  static final int LW = AccessFlags.LOCAL_WRITE;
  static final int RWR = LW | W | R;
  static final byte POOL_BYTE = (byte) 0x5A;
  static final int POOL_PAGES = 8;

  // ---- helpers (shared) ----

  /** A page pool: a USER region of {@code pages} whole pages in {@code pd}, LOCAL_WRITE only, filled with POOL_BYTE. */
  static MemoryRegion pool(ProtectionDomain pd, int pages) throws Exception {
    MemoryRegion pool = await(pd.registerMr(ByteBuffer.allocateDirect(pages * Page.SIZE), LW));
    ConformanceFixture.fillConst(pool, 0, pages * Page.SIZE, POOL_BYTE);
    assertEquals(pages, pool.pageCount());
    return pool;
  }

  static List<Page> pages(MemoryRegion pool, int... idx) {
    List<Page> out = new ArrayList<>(idx.length);
    for (int i : idx) {
      out.add(pool.page(i));
    }
    return out;
  }

  /** The pool offset of the region's address {@code addr}, for pages {@code idx} mapped at {@code iova}. */
  static int poolOffset(int[] idx, long iova, long addr) {
    long c = (iova & (Page.SIZE - 1)) + (addr - iova);
    return idx[(int) (c / Page.SIZE)] * Page.SIZE + (int) (c % Page.SIZE);
  }

  static byte[] snapshot(MemoryRegion pool) {
    return read(pool, 0, pool.buffer().capacity());
  }

  /** {@code before} with {@code data} placed where the region's bytes {@code [addr, addr + data.length)} live. */
  static byte[] expectedAfterWrite(byte[] before, int[] idx, long iova, long addr, byte[] data) {
    byte[] exp = before.clone();
    for (int k = 0; k < data.length; k++) {
      exp[poolOffset(idx, iova, addr + k)] = data[k];
    }
    return exp;
  }

  static void assertPool(byte[] expected, MemoryRegion pool, String what) {
    byte[] now = snapshot(pool);
    for (int i = 0; i < now.length; i++) {
      if (now[i] != expected[i]) {
        fail(what + ": pool byte " + i + " (page " + i / Page.SIZE + ", offset " + i % Page.SIZE + ") is " + now[i]
            + ", expected " + expected[i]);
      }
    }
  }

  /** Posts a signaled REG_MR of {@code mr} (mapped already) on {@code s.qp} and expects its success. */
  static void regMr(ConformanceFixture.Side s, MemoryRegion mr, int key, int access, long wrId) {
    s.qp.postSend(SendWr.regMr(wrId, SendFlags.SIGNALED, mr, key, access));
    WorkCompletion wc = pollOne(s.cq);
    assertOk(wc);
    assertEquals(wrId, wc.wrId());
    assertEquals(WcOpcode.REG_MR, wc.opcode());
    assertEquals(0, wc.byteLen());
  }

  /** allocMr + mapPages(pages {@code idx} of {@code pool}, iova, len) + REG_MR on {@code s.qp}: a VALID region. */
  static MemoryRegion fastReg(ConformanceFixture.Side s, MemoryRegion pool, int[] idx, long iova, long len, int access)
      throws Exception {
    MemoryRegion mr = await(s.pd.allocMr(POOL_PAGES));
    mr.mapPages(pages(pool, idx), iova, len);
    regMr(s, mr, mr.rkey(), access, 900);
    assertTrue(mr.isValid());
    return mr;
  }

  /** Posts a one-sided WR on {@code req} and returns its completion. */
  static WorkCompletion oneSided(ConformanceFixture.Side req, WrOpcode op, int localOff, int len, long addr, int rkey) {
    req.qp.postSend(SendWr.builder(op).wrId(7).sge(Sge.of(req.mr, localOff, len)).remote(addr, rkey).build());
    return pollOne(req.cq);
  }

  static WorkCompletion write(ConformanceFixture.Side req, int localOff, int len, long addr, int rkey) {
    return oneSided(req, WrOpcode.RDMA_WRITE, localOff, len, addr, rkey);
  }

  static WorkCompletion readInto(ConformanceFixture.Side req, int localOff, int len, long addr, int rkey) {
    return oneSided(req, WrOpcode.RDMA_READ, localOff, len, addr, rkey);
  }

  /** Expects a REM_ACCESS_ERR at the requester and both QPs in ERR. */
  static void assertRemoteAccessError(WorkCompletion wc, ConformanceFixture.Side req, ConformanceFixture.Side resp) {
    assertEquals(WcStatus.REM_ACCESS_ERR, wc.status(), () -> "completion " + wc);
    awaitState(req.qp, QpState.ERR);
    awaitState(resp.qp, QpState.ERR);
  }

  /** A key with the same slot as {@code key} and another variant (low 8 bits). */
  static int staleVariant(int key) {
    return (key & ~0xff) | ((key + 0x37) & 0xff);
  }

  /** A key whose slot no region has. */
  static int unknownKey(int nearKey) {
    return nearKey + (0x4000 << 8);
  }

  /**
   * A second protection domain on {@code s}'s device, with an RC QP (connected to a QP on a new device) so that
   * REG_MR can be posted in it. Returns the side of the other PD (its mr is a page pool of that PD).
   */
  static ConformanceFixture.Side otherPdSide(ConformanceFixture f, ConformanceFixture.Side s) throws Exception {
    ProtectionDomain otherPd = await(s.dev.allocPd());
    ConformanceFixture.Side o = new ConformanceFixture.Side(s.dev, otherPd,
        await(s.dev.createCq(64, null, null, null)), pool(otherPd, POOL_PAGES));
    ConformanceFixture.Side peer = f.side(64, 4096, null);
    ConformanceFixture.createQp(o, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(peer, QpType.RC, OneSidedFixture.CAP, true);
    ConformanceFixture.connect(o, peer);
    return o;
  }

  /** An RC pair (or UC: {@code type}) of new devices, both all-signaled, all remote rights on the QPs. */
  static ConformanceFixture.Side[] pair(ConformanceFixture f, QpType type) throws Exception {
    ConformanceFixture.Side a = f.side(256, 65536, null);
    ConformanceFixture.Side b = f.side(256, 65536, null);
    ConformanceFixture.createQp(a, type, OneSidedFixture.CAP, true);
    ConformanceFixture.createQp(b, type, OneSidedFixture.CAP, true);
    ConformanceFixture.connect(a, b);
    return new ConformanceFixture.Side[] {a, b};
  }

  // ---- tests ----

  @Test
  @DisplayName("REG_MR (LOCAL_WRITE, REMOTE_WRITE/READ/ATOMIC) over 3 out-of-order pool pages at an unaligned iova: WC REG_MR; a 9000-byte WRITE across two "
      + "page boundaries lands at exactly the mapped bytes, a READ returns them, a FETCH_AND_ADD works big-endian")
  void regMrMapsPagesInOrderGiven() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    int[] idx = {5, 2, 7};
    long iova = 0x10000 + 100;
    long len = 3L * Page.SIZE - 100;
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    assertEquals(MrType.MEM_REG, mr.type());
    assertFalse(mr.isValid(), "a new fast-reg region is FREE");
    assertEquals(0, mr.access());
    mr.mapPages(pages(pool, idx), iova, len);
    assertEquals(iova, mr.iova());
    assertEquals(len, mr.length());
    assertEquals(mr.lkey(), mr.rkey());
    // REMOTE_ATOMIC too, for the FETCH_AND_ADD at the end (REG_MR's rights decide, see regMrAccessDecidesRights).
    regMr(p.resp, mr, mr.rkey(), RWR | A, 1);
    assertTrue(mr.isValid());
    assertEquals(RWR | A, mr.access());

    // A WRITE of 9000 bytes from iova + 3000: region offsets 3000..11999, i.e. concatenated offsets
    // 3100..12099 (crossing 4096 and 8192): pages 5 (3100..4095), 2 (all), 7 (0..3907).
    fill(p.req.mr, 0, 9000, 21);
    byte[] data = read(p.req.mr, 0, 9000);
    byte[] before = snapshot(pool);
    long addr = iova + 3000;
    assertOk(write(p.req, 0, 9000, addr, mr.rkey()));
    assertPool(expectedAfterWrite(before, idx, iova, addr, data), pool, "the WRITE through the fast-reg key");
    assertEquals(data[0], pool.buffer().get(5 * Page.SIZE + 3100), "first byte in page 5 at offset 3100");
    assertEquals(data[995], pool.buffer().get(5 * Page.SIZE + 4095), "last byte of page 5");
    assertEquals(data[996], pool.buffer().get(2 * Page.SIZE), "then page 2 from its start");
    assertEquals(data[996 + 4096], pool.buffer().get(7 * Page.SIZE), "then page 7 from its start");
    assertEquals(data[8999], pool.buffer().get(7 * Page.SIZE + 3907), "last byte in page 7 at offset 3907");

    // READ back the same bytes.
    ConformanceFixture.fillConst(p.req.mr, 20000, 9000, (byte) 0);
    assertOk(readInto(p.req, 20000, 9000, addr, mr.rkey()));
    assertArrayEquals(data, read(p.req.mr, 20000, 9000), "READ through the fast-reg key");

    // FETCH_AND_ADD at an 8-aligned iova in the second page (region offset 4004 = concatenated 4104: page 2 + 8).
    long atomicAddr = 0x10000 + 4104;
    assertEquals(0, atomicAddr % 8);
    int at = poolOffset(idx, iova, atomicAddr);
    assertEquals(2 * Page.SIZE + 8, at);
    pool.buffer().putLong(at, 0x0102030405060708L);
    p.req.qp.postSend(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(9).sge(Sge.of(p.req.mr, 40000, 8))
        .remote(atomicAddr, mr.rkey()).atomic(0x10, 0).build());
    WorkCompletion wc = pollOne(p.req.cq);
    assertOk(wc);
    ConformanceFixture.assertBytes(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, p.req.mr, 40000, "the original, big-endian");
    assertEquals(0x0102030405060718L, pool.buffer().getLong(at), "the sum, big-endian in the pool page");
    assertCqEmpty(p.resp.cq);
  }

  @Test
  @DisplayName("a FREE fast-reg region (mapPages done, no REG_MR): a peer WRITE with its key fails REM_ACCESS_ERR, "
      + "both QPs ERR, nothing written")
  void freeRegionRefusesRemoteAccess() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    mr.mapPages(pages(pool, 1, 2), 0x4000, 2 * Page.SIZE);
    byte[] before = snapshot(pool);
    fill(p.req.mr, 0, 256, 3);
    assertRemoteAccessError(write(p.req, 0, 256, 0x4000, mr.rkey()), p.req, p.resp);
    assertPool(before, pool, "nothing written into a FREE region's pages");
  }

  @Test
  @DisplayName("REG_MR on a VALID region: LOC_QP_OP_ERR, the QP goes to ERR, the next WR is flushed; the region "
      + "stays VALID with its old key and rights")
  void regMrOnValidRegionFails() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    MemoryRegion mr = fastReg(p.resp, pool, new int[] {0, 1}, 0x8000, 2 * Page.SIZE, RWR);
    int key = mr.rkey();
    mr.mapPages(pages(pool, 3), 0x9000, Page.SIZE);
    p.resp.qp.postSend(List.of(SendWr.regMr(1, SendFlags.SIGNALED, mr, key, LW | R),
        SendWr.send(2, SendFlags.SIGNALED, Sge.of(p.resp.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(p.resp.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(WcStatus.LOC_QP_OP_ERR, wcs.get(0).status(), () -> "completion " + wcs.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status(), () -> "completion " + wcs.get(1));
    awaitState(p.resp.qp, QpState.ERR);
    assertTrue(mr.isValid());
    assertEquals(key, mr.rkey());
    assertEquals(RWR, mr.access(), "the rights of the first REG_MR");
    assertCqEmpty(p.resp.cq);
    // The old key still works at a peer, over the old mapping (0x8000, two pages), on fresh QPs.
    FmrContract.freshQps(p);
    fill(p.req.mr, 0, 16, 8);
    assertOk(write(p.req, 0, 16, 0x8000 + 2 * Page.SIZE - 16, key));
  }

  @Test
  @DisplayName("key rotation: LOCAL_INV (WC LOCAL_INV), updateFastRegKey, mapPages, REG_MR with the new key: the new "
      + "rkey works at a peer, the old one fails REM_ACCESS_ERR and writes nothing")
  void keyRotation() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    int[] idx = {4};
    MemoryRegion mr = fastReg(p.resp, pool, idx, 0x7000, Page.SIZE, RWR);
    int oldKey = mr.rkey();
    fill(p.req.mr, 0, 64, 5);
    assertOk(write(p.req, 0, 64, 0x7000, oldKey));
    p.resp.qp.postSend(SendWr.localInv(2, SendFlags.SIGNALED, oldKey));
    WorkCompletion inv = pollOne(p.resp.cq);
    assertOk(inv);
    assertEquals(2, inv.wrId());
    assertEquals(WcOpcode.LOCAL_INV, inv.opcode());
    assertFalse(mr.isValid());
    assertEquals(0, mr.access());

    int newKey = mr.updateFastRegKey(oldKey + 1);
    assertEquals((oldKey & ~0xff) | ((oldKey + 1) & 0xff), newKey);
    assertEquals(newKey, mr.rkey());
    assertEquals(newKey, mr.lkey());
    int[] idx2 = {6};
    mr.mapPages(pages(pool, idx2), 0x7000, Page.SIZE);
    regMr(p.resp, mr, newKey, RWR, 3);

    fill(p.req.mr, 1000, 128, 6);
    byte[] before = snapshot(pool);
    assertOk(write(p.req, 1000, 128, 0x7000 + 16, newKey));
    byte[] afterNew = expectedAfterWrite(before, idx2, 0x7000, 0x7000 + 16, read(p.req.mr, 1000, 128));
    assertPool(afterNew, pool, "WRITE with the new key");
    fill(p.req.mr, 2000, 128, 7);
    assertRemoteAccessError(write(p.req, 2000, 128, 0x7000 + 16, oldKey), p.req, p.resp);
    assertPool(afterNew, pool, "nothing written with the old key");
  }

  @Test
  @DisplayName("REG_MR's access decides the rights: registered REMOTE_READ only, a peer READ works and a peer WRITE "
      + "fails REM_ACCESS_ERR, writing nothing")
  void regMrAccessDecidesRights() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    int[] idx = {3, 0};
    fill(pool, 0, Page.SIZE, 8);
    fill(pool, 3 * Page.SIZE, Page.SIZE, 9);
    MemoryRegion mr = fastReg(p.resp, pool, idx, 0x5000, 2 * Page.SIZE, R);
    assertEquals(R, mr.access());
    assertOk(readInto(p.req, 0, 200, 0x5000 + 4000, mr.rkey()));
    byte[] expect = new byte[200];
    for (int k = 0; k < 200; k++) {
      expect[k] = pool.buffer().get(poolOffset(idx, 0x5000, 0x5000 + 4000 + k));
    }
    assertArrayEquals(expect, read(p.req.mr, 0, 200));
    byte[] before = snapshot(pool);
    fill(p.req.mr, 1000, 64, 10);
    assertRemoteAccessError(write(p.req, 1000, 64, 0x5000, mr.rkey()), p.req, p.resp);
    assertPool(before, pool, "nothing written through a read-only registration");
  }

  @Test
  @DisplayName("REG_MR then SEND in one postSend list: REG_MR executes first, so the peer can use the rkey (carried in "
      + "the SEND) as soon as it received the SEND")
  void regMrBeforeLaterWrs() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    int[] idx = {6, 1};
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    long iova = 0x22000 + 8;
    mr.mapPages(pages(pool, idx), iova, 2 * Page.SIZE - 8);
    int key = mr.updateFastRegKey(0x42);
    // The SEND carries the iova and rkey, as a ULP's request would.
    p.resp.mr.buffer().putLong(0, iova);
    p.resp.mr.buffer().putInt(8, key);
    p.req.qp.postRecv(RecvWr.of(50, Sge.of(p.req.mr, 60000, 64)));
    p.resp.qp.postSend(List.of(SendWr.regMr(1, 0, mr, key, RWR), SendWr.send(2, 0, Sge.of(p.resp.mr, 0, 12))));
    WorkCompletion recv = pollOne(p.req.cq);
    assertOk(recv);
    assertEquals(50, recv.wrId());
    long gotIova = p.req.mr.buffer().getLong(60000);
    int gotKey = p.req.mr.buffer().getInt(60008);
    assertEquals(iova, gotIova);
    assertEquals(key, gotKey);
    fill(p.req.mr, 0, 5000, 11);
    byte[] before = snapshot(pool);
    assertOk(write(p.req, 0, 5000, gotIova + 100, gotKey));
    assertPool(expectedAfterWrite(before, idx, iova, iova + 100, read(p.req.mr, 0, 5000)), pool,
        "WRITE right after the SEND");
    List<WorkCompletion> sent = poll(p.resp.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(sent), "REG_MR completes before the SEND posted after it");
    sent.forEach(ConformanceFixture::assertOk);
    assertEquals(WcOpcode.REG_MR, sent.get(0).opcode());
    assertEquals(WcOpcode.SEND, sent.get(1).opcode());
  }

  enum BadInv { UNKNOWN_KEY, STALE_VARIANT, USER_REGION, FMR, OTHER_PD }

  @ParameterizedTest(name = "{0}")
  @EnumSource(BadInv.class)
  @DisplayName("LOCAL_INV of an unknown key, a stale variant, a USER region's key, an FMR's key or another PD's "
      + "region: LOC_QP_OP_ERR, QP to ERR, the next WR flushed, the named region still valid")
  void localInvFailures(BadInv bad) throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    MemoryRegion mr = fastReg(p.resp, pool, new int[] {2}, 0x3000, Page.SIZE, RWR);
    int key;
    java.util.function.BooleanSupplier victimValid;
    switch (bad) {
      case UNKNOWN_KEY -> {
        key = unknownKey(mr.rkey());
        victimValid = () -> true;
      }
      case STALE_VARIANT -> {
        key = staleVariant(mr.rkey());
        victimValid = mr::isValid;
      }
      case USER_REGION -> {
        key = p.target.mr.rkey();
        victimValid = p.target.mr::isValid;
      }
      case FMR -> {
        Fmr fmr = await(p.resp.pd.allocFmr(RWR, 1));
        int fmrKey = fmr.mapPhys(pages(pool, 4), 0x3000);
        key = fmrKey;
        victimValid = () -> fmr.isMapped() && fmr.rkey() == fmrKey;
      }
      case OTHER_PD -> {
        ConformanceFixture.Side o = otherPdSide(f, p.resp);
        MemoryRegion other = fastReg(o, o.mr, new int[] {1}, 0x3000, Page.SIZE, RWR);
        key = other.rkey();
        victimValid = other::isValid;
      }
      default -> throw new AssertionError(bad);
    }
    p.resp.qp.postSend(List.of(SendWr.localInv(1, SendFlags.SIGNALED, key),
        SendWr.send(2, SendFlags.SIGNALED, Sge.of(p.resp.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(p.resp.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(WcStatus.LOC_QP_OP_ERR, wcs.get(0).status(), () -> bad + ": " + wcs.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(p.resp.qp, QpState.ERR);
    assertTrue(mr.isValid(), "the responder's own fast-reg region is still VALID");
    assertTrue(victimValid.getAsBoolean(), bad + ": the named region is still valid");
  }

  @Test
  @DisplayName("post-time refusals (INVALID, badIndex 0): REG_MR with a null region, invalid access, an SGE, INLINE; "
      + "LOCAL_INV with an SGE; SEND_WITH_INV on UD. A good post then works")
  void badPostsAreRefused() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    mr.mapPages(pages(pool, 0, 1), 0x1000, 2 * Page.SIZE);
    int k = mr.rkey();
    List<SendWr> bad = List.of(
        SendWr.regMr(1, SendFlags.SIGNALED, null, k, RWR),
        SendWr.regMr(5, SendFlags.SIGNALED, mr, k, W | R),
        SendWr.builder(WrOpcode.REG_MR).wrId(7).flags(SendFlags.SIGNALED).reg(mr, k, RWR)
            .sge(Sge.of(p.resp.mr, 0, 8)).build(),
        SendWr.regMr(8, SendFlags.SIGNALED | SendFlags.INLINE, mr, k, RWR),
        SendWr.builder(WrOpcode.LOCAL_INV).wrId(9).flags(SendFlags.SIGNALED).invalidateRkey(k)
            .sge(Sge.of(p.resp.mr, 0, 8)).build());
    for (SendWr wr : bad) {
      PostException e = assertThrows(PostException.class, () -> p.resp.qp.postSend(wr), "wr " + wr.wrId());
      assertEquals(PostException.Reason.INVALID, e.reason(), "wr " + wr.wrId() + ": " + e.getMessage());
      assertEquals(0, e.badIndex());
    }
    // SEND_WITH_INV on UD.
    ConformanceFixture.Side u = f.side(p.resp.dev, 16, 4096, null);
    ConformanceFixture.createQp(u, QpType.UD, new QpCap(8, 8, 1, 1, 0), true);
    await(QpConnect.ud(u.qp, 1, 0x1234, 0));
    AddressHandle ah = u.pd.createAh(p.req.path(1));
    SendWr udInv = SendWr.builder(WrOpcode.SEND_WITH_INV).wrId(10).invalidateRkey(k).ud(ah, u.qp.qpNum(), 0x1234)
        .sge(Sge.of(u.mr, 0, 8)).build();
    PostException e = assertThrows(PostException.class, () -> u.qp.postSend(udInv));
    assertEquals(PostException.Reason.INVALID, e.reason());
    assertEquals(QpState.RTS, u.qp.state());
    assertCqEmpty(u.cq);

    // Nothing was disturbed: the QP is in RTS, nothing completed, regions unchanged, and good posts work.
    assertEquals(QpState.RTS, p.resp.qp.state());
    assertCqEmpty(p.resp.cq);
    assertFalse(mr.isValid());
    assertTrue(p.target.mr.isValid());
    assertEquals(k, mr.rkey());
    regMr(p.resp, mr, k, RWR, 20);
    fill(p.req.mr, 0, 300, 12);
    byte[] before = snapshot(pool);
    assertOk(write(p.req, 0, 300, 0x1000 + 4000, k));
    assertPool(expectedAfterWrite(before, new int[] {0, 1}, 0x1000, 0x1000 + 4000, read(p.req.mr, 0, 300)), pool,
        "the good REG_MR after the refusals");
    p.resp.qp.postSend(SendWr.localInv(21, SendFlags.SIGNALED, k));
    WorkCompletion inv = pollOne(p.resp.cq);
    assertOk(inv);
    assertEquals(21, inv.wrId());
    assertCqEmpty(p.resp.cq);
  }

  @Test
  @DisplayName("the post snapshots the page list: mapPages(A), post REG_MR, mapPages(B) at once: the VALID mapping is "
      + "A's (a WRITE lands in A's pages, B's untouched)")
  void regMrSnapshotsPageList() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    int[] a = {1, 2};
    int[] b = {5, 6};
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    long iova = 0x60000;
    mr.mapPages(pages(pool, a), iova, 2 * Page.SIZE);
    p.resp.qp.postSend(SendWr.regMr(1, SendFlags.SIGNALED, mr, mr.rkey(), RWR));
    mr.mapPages(pages(pool, b), iova, 2 * Page.SIZE);
    WorkCompletion wc = pollOne(p.resp.cq);
    assertOk(wc);
    assertEquals(WcOpcode.REG_MR, wc.opcode());
    fill(p.req.mr, 0, 6000, 13);
    byte[] before = snapshot(pool);
    assertOk(write(p.req, 0, 6000, iova + 1000, mr.rkey()));
    assertPool(expectedAfterWrite(before, a, iova, iova + 1000, read(p.req.mr, 0, 6000)), pool,
        "the WRITE lands in A's pages (1, 2); B's (5, 6) untouched");
  }

  @Test
  @DisplayName("UC: REG_MR and LOCAL_INV work; a failing LOCAL_INV completes LOC_QP_OP_ERR, the QP goes to SQE and "
      + "later sends are flushed")
  void ucRegMrAndLocalInv() throws Exception {
    ConformanceFixture.Side[] s = pair(f, QpType.UC);
    ConformanceFixture.Side req = s[0];
    ConformanceFixture.Side resp = s[1];
    MemoryRegion pool = pool(resp.pd, POOL_PAGES);
    int[] idx = {7, 3};
    MemoryRegion mr = fastReg(resp, pool, idx, 0x9000 + 64, 2 * Page.SIZE - 64, RWR);
    // A UC WRITE completes as it leaves: follow it with a SEND whose receive proves the WRITE was placed.
    fill(req.mr, 0, 5000, 14);
    byte[] before = snapshot(pool);
    resp.qp.postRecv(RecvWr.of(30, Sge.of(resp.mr, 0, 64)));
    req.qp.postSend(List.of(
        SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(Sge.of(req.mr, 0, 5000)).remote(0x9000 + 64 + 10, mr.rkey())
            .build(),
        SendWr.send(2, 0, Sge.of(req.mr, 0, 8))));
    WorkCompletion recv = pollOne(resp.cq);
    assertOk(recv);
    assertEquals(30, recv.wrId());
    poll(req.cq, 2).forEach(ConformanceFixture::assertOk);
    assertPool(expectedAfterWrite(before, idx, 0x9000 + 64, 0x9000 + 64 + 10, read(req.mr, 0, 5000)), pool,
        "UC WRITE through the fast-reg key");

    resp.qp.postSend(SendWr.localInv(3, SendFlags.SIGNALED, mr.rkey()));
    WorkCompletion inv = pollOne(resp.cq);
    assertOk(inv);
    assertEquals(WcOpcode.LOCAL_INV, inv.opcode());
    assertFalse(mr.isValid());

    resp.qp.postSend(List.of(SendWr.localInv(4, SendFlags.SIGNALED, unknownKey(mr.rkey())),
        SendWr.send(5, SendFlags.SIGNALED, Sge.of(resp.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(resp.cq, 2);
    assertEquals(List.of(4L, 5L), wrIds(wcs));
    assertEquals(WcStatus.LOC_QP_OP_ERR, wcs.get(0).status(), () -> "completion " + wcs.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(resp.qp, QpState.SQE);
    resp.qp.postSend(SendWr.send(6, SendFlags.SIGNALED, Sge.of(resp.mr, 0, 8)));
    WorkCompletion later = pollOne(resp.cq);
    assertEquals(6, later.wrId());
    assertEquals(WcStatus.WR_FLUSH_ERR, later.status());
    assertEquals(QpState.SQE, resp.qp.state());
    assertCqEmpty(resp.cq);
    assertNotEquals(QpState.ERR, req.qp.state());
  }

  @Test
  @DisplayName("after a fast-reg region used all 256 variants of its key and was deregistered, none of its keys "
      + "comes back with the next region in that slot (a stale rkey cannot write into it)")
  void consumerVariantsNeverComeBack() throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, 8);
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    int key0 = mr.rkey();
    java.util.Set<Integer> used = new java.util.HashSet<>();
    mr.mapPages(pages(pool, 1), 0x4000, 4096);
    regMr(p.resp, mr, key0, RWR, 1);
    used.add(key0);
    int k = key0;
    for (int i = 1; i <= 255; i++) {
      p.resp.qp.postSend(SendWr.localInv(2, SendFlags.SIGNALED, k));
      assertOk(pollOne(p.resp.cq));
      k = mr.updateFastRegKey(key0 + i);
      used.add(k);
      mr.mapPages(pages(pool, 1), 0x4000, 4096);
      regMr(p.resp, mr, k, RWR, 1);
    }
    await(mr.deregister());
    ByteBuffer victim = ByteBuffer.allocateDirect(1 << 16);
    MemoryRegion user = await(p.resp.pd.registerMr(victim, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE));
    assertFalse(used.contains(user.rkey()), String.format("the new region's key 0x%08x is a stale one", user.rkey()));
    fill(p.req.mr, 0, 64, 9);
    assertEquals(WcStatus.REM_ACCESS_ERR, write(p.req, 0, 64, user.iova(), key0).status(), "stale key0");
    assertEquals(0, victim.get(0), "nothing written");
  }

  /** REG_MRs that are well formed but cannot execute (rxe_reg_fast_mr's checks). */
  enum BadReg {
    USER_REGION, REGION_OF_ANOTHER_PD, KEY_OF_ANOTHER_INDEX, NO_PAGE_LIST
  }

  @ParameterizedTest(name = "{0}: LOC_QP_OP_ERR, QP in ERR, the next WR flushed, the region unchanged")
  @EnumSource(BadReg.class)
  @DisplayName("REG_MR errors found when it executes, as in rxe: a USER region, a region of another PD, a key of "
      + "another index, no page list -> LOC_QP_OP_ERR and the QP in ERR, nothing registered")
  void regMrExecutionErrors(BadReg bad) throws Exception {
    Pair p = OneSidedFixture.pair(f);
    MemoryRegion pool = pool(p.resp.pd, POOL_PAGES);
    MemoryRegion mr = await(p.resp.pd.allocMr(4));
    mr.mapPages(pages(pool, 0, 1), 0x1000, 2 * Page.SIZE);
    ProtectionDomain otherPd = await(p.resp.dev.allocPd());
    MemoryRegion otherMr = await(otherPd.allocMr(4));
    otherMr.mapPages(pages(pool, 2), 0x1000, Page.SIZE);
    MemoryRegion unmapped = await(p.resp.pd.allocMr(4));
    MemoryRegion region = switch (bad) {
      case USER_REGION -> p.target.mr;
      case REGION_OF_ANOTHER_PD -> otherMr;
      case KEY_OF_ANOTHER_INDEX -> mr;
      case NO_PAGE_LIST -> unmapped;
    };
    int key = bad == BadReg.KEY_OF_ANOTHER_INDEX ? mr.rkey() + 0x100 : region.rkey();
    p.resp.qp.postSend(List.of(SendWr.regMr(1, SendFlags.SIGNALED, region, key, RWR),
        SendWr.send(2, SendFlags.SIGNALED, Sge.of(p.resp.mr, 0, 8))));
    List<WorkCompletion> wcs = poll(p.resp.cq, 2);
    assertEquals(List.of(1L, 2L), wrIds(wcs));
    assertEquals(WcStatus.LOC_QP_OP_ERR, wcs.get(0).status(), bad + ": " + wcs.get(0));
    assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(1).status());
    awaitState(p.resp.qp, QpState.ERR);
    assertFalse(mr.isValid());
    assertFalse(otherMr.isValid());
    assertFalse(unmapped.isValid());
    assertTrue(p.target.mr.isValid(), "the USER region is untouched");
  }
}
