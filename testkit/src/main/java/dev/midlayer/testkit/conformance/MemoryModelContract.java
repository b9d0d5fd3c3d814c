package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.conformance.ConformanceFixture.Side;
import dev.midlayer.testkit.conformance.OneSidedFixture.Guarded;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A seeded random walk over 3 RC QP pairs that mixes one-sided traffic (WRITE, READ, FETCH_AND_ADD,
 * CMP_AND_SWP) into USER regions, fast-registration regions and FMRs with the memory verbs that change
 * those regions (REG_MR, LOCAL_INV, SEND_WITH_INV, FMR map and unmap), checked against a plain Java model:
 * the state of every region (FREE/VALID, current key, rights, page list and iova) and every byte of the
 * responder's page pool, of the USER targets, of the receive buffers and of the requesters' local buffers.
 *
 * <p>One work request at a time: each step posts one WR (or maps/unmaps an FMR), polls its completion(s),
 * and checks that each status is the one the model predicts, that the memory equals the model and that
 * the guard bytes around every buffer are unchanged. A WR the model expects to fail moves the QPs the
 * model names to ERR; the pair is then replaced by a fresh one on the same devices and PDs (the memory and
 * the regions stay). The seed is printed on failure and can be set with {@code -Dmidlayer.test.seed=N}.
 *
 * <p>Seed rules: C1/C2, C5 (random walks of posts from the test thread against a model). IB spec: IBA vol. 1
 * §10.6 (memory protection), §9.4 (one-sided operations).
 */
public abstract class MemoryModelContract extends DriverContract {
  private static final int PAIRS = 3;
  private static final int STEPS = 800;
  private static final int POOL_PAGES = 16;
  private static final int LOCAL = 8192;
  private static final int RBUF = 2048;
  private static final int MRS = 3;
  private static final int MR_PAGES = 4;
  private static final int FMR_PAGES = 4;
  private static final int MAX_LEN = 1024;
  private static final int LW = AccessFlags.LOCAL_WRITE;
  private static final int RW = AccessFlags.REMOTE_WRITE;
  private static final int RR = AccessFlags.REMOTE_READ;
  private static final int RA = AccessFlags.REMOTE_ATOMIC;

  @Test
  @DisplayName("random WRITE/READ/atomics into USER, fast-reg and FMR regions mixed with REG_MR, LOCAL_INV, "
      + "SEND_WITH_INV and FMR map/unmap over 3 RC pairs: every completion status equals the model's, memory "
      + "(page pool, targets, receive and local buffers) equals the model after every completion, guard bytes "
      + "unchanged; the seed is printed and replayable")
  void randomAgainstModel() throws Exception {
    long seed = Long.getLong("midlayer.test.seed", System.nanoTime());
    try {
      new Walk(seed).run();
    } catch (AssertionError e) {
      throw new AssertionError("seed " + seed + " (rerun with -Dmidlayer.test.seed=" + seed + "): " + e.getMessage(), e);
    }
  }

  private enum Kind { USER, MEM_REG, FMR }

  /** The model of one responder region. */
  private static final class Region {
    final String name;
    final Kind kind;
    final boolean samePd;
    final MemoryRegion mr; // USER and MEM_REG
    final Fmr fmr; // FMR
    final Guarded user; // USER
    final byte[] bytes; // USER: the model of its bytes
    boolean valid;
    int key; // the key the device resolves (USER: lkey; MEM_REG: of the last REG_MR or alloc; FMR: of the last map)
    int access;
    long iova;
    long length;
    int[] pages; // MEM_REG / FMR: indices into the pool
    // MEM_REG only
    int softKey;
    int[] stagedPages;
    long stagedIova;
    long stagedLength;
    // FMR only
    int maps;
    final List<Integer> oldKeys = new ArrayList<>();

    Region(String name, Kind kind, boolean samePd, MemoryRegion mr, Fmr fmr, Guarded user) {
      this.name = name;
      this.kind = kind;
      this.samePd = samePd;
      this.mr = mr;
      this.fmr = fmr;
      this.user = user;
      this.bytes = user == null ? null : ConformanceFixture.read(user.mr, 0, user.len);
    }

    @Override
    public String toString() {
      return String.format("%s[%s key 0x%08x %s access %s iova 0x%x len %d pages %s]", name, kind, key,
          valid ? "VALID" : "FREE", AccessFlags.toString(access), iova, length, Arrays.toString(pages));
    }
  }

  /** One connected pair: {@code req} on its own device, {@code resp} on the responder device, same PD as the regions. */
  private static final class Conn {
    final Side req;
    final Side resp;

    Conn(Side req, Side resp) {
      this.req = req;
      this.resp = resp;
    }
  }

  private final class Walk {
    final long seed;
    final Random rnd;
    Device rdev;
    ProtectionDomain pd;
    Guarded pool;
    byte[] poolModel;
    final List<Region> regions = new ArrayList<>();
    final List<Region> memRegs = new ArrayList<>();
    final List<Region> fmrs = new ArrayList<>();
    final Device[] reqDev = new Device[PAIRS];
    final ProtectionDomain[] reqPd = new ProtectionDomain[PAIRS];
    final Guarded[] local = new Guarded[PAIRS];
    final byte[][] localModel = new byte[PAIRS][];
    final Guarded[] rbuf = new Guarded[PAIRS];
    final byte[][] rbufModel = new byte[PAIRS][];
    final Conn[] conns = new Conn[PAIRS];
    long wrId;
    int step;
    String what = "setup";
    final int[] outcomes = new int[2];
    /** Per operation: how many succeeded and how many failed (as predicted), for the summary line. */
    final java.util.Map<String, int[]> stats = new java.util.TreeMap<>();
    final java.util.Map<String, Integer> reasons = new java.util.TreeMap<>();
    int rebuilt;

    Walk(long seed) {
      this.seed = seed;
      this.rnd = new Random(seed);
    }

    void run() throws Exception {
      long t0 = System.nanoTime();
      setup();
      for (step = 0; step < STEPS; step++) {
        int pick = rnd.nextInt(100);
        int pair = rnd.nextInt(PAIRS);
        if (pick < 20) {
          write(pair);
        } else if (pick < 34) {
          read(pair);
        } else if (pick < 43) {
          atomic(pair, false);
        } else if (pick < 50) {
          atomic(pair, true);
        } else if (pick < 66) {
          regMr(pair);
        } else if (pick < 68) {
          regMrBadAccess(pair);
        } else if (pick < 75) {
          localInv(pair);
        } else if (pick < 82) {
          sendWithInv(pair);
        } else if (pick < 96) {
          fmrMap();
        } else {
          fmrUnmap();
        }
        checkAll();
      }
      System.out.printf("MemoryModelTest seed %d: %d steps, %d WRs succeeded, %d failed as the model said, %d pairs"
          + " rebuilt, %d ms; ok/failed per op: %s%n", seed, STEPS, outcomes[0], outcomes[1], rebuilt,
          (System.nanoTime() - t0) / 1_000_000, describe(stats) + "; remote failures " + reasons);
      // Most steps succeed, some fail: both kinds were exercised.
      assertTrue(outcomes[0] > STEPS / 2 && outcomes[1] > STEPS / 50,
          "successes " + outcomes[0] + ", expected failures " + outcomes[1]);
    }

    // ---- setup ----

    void setup() throws Exception {
      rdev = f.addDevice();
      pd = await(rdev.allocPd());
      ProtectionDomain otherPd = await(rdev.allocPd());
      pool = OneSidedFixture.guarded(pd, POOL_PAGES * Page.SIZE, LW, 5);
      assertEquals(POOL_PAGES, pool.mr.pageCount());
      poolModel = ConformanceFixture.read(pool.mr, 0, pool.len);
      addUser("pool", true, pool, LW);
      addUser("t0", true, OneSidedFixture.guarded(pd, 2048, LW | RW | RR | RA, 6), LW | RW | RR | RA);
      addUser("t1", true, OneSidedFixture.guarded(pd, 1024, LW | RR, 7), LW | RR);
      addUser("otherPd", false, OneSidedFixture.guarded(otherPd, 1024, LW | RW | RR | RA, 8), LW | RW | RR | RA);
      for (int i = 0; i < MRS; i++) {
        MemoryRegion mr = await(pd.allocMr(MR_PAGES));
        Region r = new Region("mr" + i, Kind.MEM_REG, true, mr, null, null);
        r.key = mr.lkey();
        r.softKey = mr.lkey();
        assertEquals(r.key, mr.rkey());
        assertTrue(!mr.isValid() && mr.access() == 0, "a fresh fast-reg region is FREE");
        regions.add(r);
        memRegs.add(r);
      }
      int[] fmrAccess = {LW | RW | RR | RA, LW | RR};
      for (int i = 0; i < fmrAccess.length; i++) {
        Fmr fmr = await(pd.allocFmr(fmrAccess[i], FMR_PAGES));
        Region r = new Region("fmr" + i, Kind.FMR, true, null, fmr, null);
        r.key = fmr.lkey();
        r.access = fmrAccess[i];
        assertTrue(!fmr.isMapped(), "a fresh FMR is unmapped");
        regions.add(r);
        fmrs.add(r);
      }
      for (int i = 0; i < PAIRS; i++) {
        reqDev[i] = f.addDevice();
        reqPd[i] = await(reqDev[i].allocPd());
        local[i] = OneSidedFixture.guarded(reqPd[i], LOCAL, LW, 20 + i);
        localModel[i] = ConformanceFixture.read(local[i].mr, 0, LOCAL);
        rbuf[i] = OneSidedFixture.guarded(pd, RBUF, LW, 30 + i);
        rbufModel[i] = ConformanceFixture.read(rbuf[i].mr, 0, RBUF);
        conns[i] = connect(i);
      }
    }

    void addUser(String name, boolean samePd, Guarded g, int access) {
      Region r = new Region(name, Kind.USER, samePd, g.mr, null, g);
      r.valid = true;
      r.key = g.mr.lkey();
      r.access = access;
      r.iova = g.mr.iova();
      r.length = g.len;
      regions.add(r);
    }

    Conn connect(int i) throws Exception {
      Side req = new Side(reqDev[i], reqPd[i], await(reqDev[i].createCq(64, null, null, null)), local[i].mr);
      Side resp = new Side(rdev, pd, await(rdev.createCq(64, null, null, null)), rbuf[i].mr);
      ConformanceFixture.createQp(req, QpType.RC, OneSidedFixture.CAP, true);
      ConformanceFixture.createQp(resp, QpType.RC, OneSidedFixture.CAP, true);
      ConformanceFixture.connect(req, resp, ConformanceFixture.RELIABLE,
          OneSidedFixture.params(OneSidedFixture.ALL_REMOTE, 16));
      return new Conn(req, resp);
    }

    /** The failed pair is replaced by a fresh one on the same devices, PDs and buffers. */
    void replace(int i) throws Exception {
      Conn c = conns[i];
      assertCqEmpty(c.req.cq);
      assertCqEmpty(c.resp.cq);
      await(c.req.qp.destroy());
      await(c.resp.qp.destroy());
      await(c.req.cq.destroy());
      await(c.resp.cq.destroy());
      conns[i] = connect(i);
      rebuilt++;
    }

    void count(boolean ok) {
      outcomes[ok ? 0 : 1]++;
      String op = what.replaceFirst("^pair \\d+ (resp )?", "");
      op = op.substring(0, op.indexOf(' '));
      stats.computeIfAbsent(op, k -> new int[2])[ok ? 0 : 1]++;
    }

    String ctx() {
      return "step " + step + " " + what;
    }

    // ---- the model ----

    /** The region a remote access with {@code key} reaches: VALID, with that exact current key. */
    Region resolve(int key) {
      for (Region r : regions) {
        if (r.valid && r.key == key) {
          return r;
        }
      }
      return null;
    }

    /** Why a remote access fails (REM_ACCESS_ERR), or null if it succeeds. */
    String remoteFailure(int key, long addr, long len, int right) {
      Region r = resolve(key);
      String why = r == null ? "no VALID region has the key"
          : !r.samePd ? "region of another PD"
          : (r.access & right) == 0 ? "right not granted"
          : addr < r.iova || addr + len > r.iova + r.length || addr + len < addr ? "out of range" : null;
      if (why != null) {
        reasons.merge(why, 1, Integer::sum);
      }
      return why;
    }

    /** LOCAL_INV and SEND_WITH_INV: succeed iff a fast-reg region in the PD has {@code key} as its current key. */
    Region invalidates(int key) {
      for (Region r : regions) {
        if (r.key == key) {
          return r.kind == Kind.MEM_REG && r.samePd ? r : null;
        }
      }
      return null;
    }

    /** The model array holding the byte at {@code addr} of {@code r}, and its index there. */
    byte[] backing(Region r) {
      return r.kind == Kind.USER ? r.bytes : poolModel;
    }

    int index(Region r, long addr) {
      long k = addr - r.iova;
      if (r.kind == Kind.USER) {
        return (int) k;
      }
      long j = (r.iova & (Page.SIZE - 1)) + k;
      return r.pages[(int) (j / Page.SIZE)] * Page.SIZE + (int) (j % Page.SIZE);
    }

    byte getByte(Region r, long addr) {
      return backing(r)[index(r, addr)];
    }

    void putByte(Region r, long addr, byte b) {
      backing(r)[index(r, addr)] = b;
    }

    long getLong(Region r, long addr) {
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (getByte(r, addr + i) & 0xff);
      }
      return v;
    }

    void putLong(Region r, long addr, long v) {
      for (int i = 7; i >= 0; i--) {
        putByte(r, addr + i, (byte) v);
        v >>>= 8;
      }
    }

    // ---- choices ----

    /** A target region for a remote access: mostly fast-reg regions and FMRs, some USER ones. */
    Region pickTarget() {
      int p = rnd.nextInt(100);
      if (p < 40) {
        Region r = preferValid(memRegs);
        if (r.valid || rnd.nextInt(4) == 0) {
          return r;
        }
        p = 40 + rnd.nextInt(60); // none VALID: mostly another kind
      }
      if (p < 62) {
        return preferValid(fmrs.subList(0, 1));
      } else if (p < 68) {
        return preferValid(fmrs);
      } else if (p < 91) {
        return regions.get(1); // t0
      } else if (p < 96) {
        return regions.get(2); // t1
      } else if (p < 99) {
        return regions.get(3); // otherPd
      } else {
        return regions.get(0); // pool (no remote right)
      }
    }

    /** One of {@code rs}, a VALID one most of the time if there is one (so most accesses can succeed). */
    Region preferValid(List<Region> rs) {
      Region r = rs.get(rnd.nextInt(rs.size()));
      if (!r.valid && rnd.nextInt(10) != 0) {
        List<Region> valid = new ArrayList<>();
        for (Region m : rs) {
          if (m.valid) {
            valid.add(m);
          }
        }
        if (!valid.isEmpty()) {
          return valid.get(rnd.nextInt(valid.size()));
        }
      }
      return r;
    }

    /** The key a peer uses: mostly the region's current key, sometimes a stale or not yet registered one. */
    int pickKey(Region r) {
      int p = rnd.nextInt(100);
      if (p < 3 && !r.oldKeys.isEmpty()) {
        return r.oldKeys.get(rnd.nextInt(r.oldKeys.size()));
      }
      if (p < 5 && r.kind == Kind.MEM_REG) {
        return r.softKey;
      }
      if (p < 6) {
        return (r.key & ~0xff) | ((r.key + 1 + rnd.nextInt(255)) & 0xff);
      }
      return r.key;
    }

    /** An address for {@code len} bytes: mostly inside the region (often across a page boundary), sometimes not. */
    long pickAddr(Region r, int len) {
      long end = r.iova + r.length;
      int p = rnd.nextInt(100);
      if (r.length >= len && p < 96) {
        if (r.kind != Kind.USER && p < 30) {
          long firstBoundary = r.iova + (Page.SIZE - (r.iova & (Page.SIZE - 1)));
          if (firstBoundary < end) {
            int boundaries = (int) ((end - 1 - firstBoundary) / Page.SIZE) + 1;
            long b = firstBoundary + (long) rnd.nextInt(boundaries) * Page.SIZE;
            long a = b - 1 - rnd.nextInt(len);
            return Math.max(r.iova, Math.min(a, end - len));
          }
        }
        return r.iova + (long) (rnd.nextDouble() * (r.length - len + 1));
      }
      if (rnd.nextBoolean() || r.iova < len + 1) {
        return end - len + 1 + rnd.nextInt(len); // runs past the end
      }
      return r.iova - 1 - rnd.nextInt(len); // starts before the start
    }

    /** An 8-aligned address for an atomic: mostly inside, sometimes just outside. */
    long pickAtomicAddr(Region r) {
      long first = (r.iova + 7) & ~7L;
      long last = (r.iova + r.length - 8) & ~7L;
      if (last >= first && first + 8 <= r.iova + r.length && rnd.nextInt(100) < 95) {
        return first + 8L * (long) (rnd.nextDouble() * ((last - first) / 8 + 1));
      }
      if (rnd.nextBoolean() || first < 8) {
        return ((r.iova + r.length) & ~7L) + (rnd.nextBoolean() ? 0 : 8);
      }
      return first - 8;
    }

    int[] pickPages(int max) {
      int n = 1 + rnd.nextInt(max);
      List<Integer> all = new ArrayList<>();
      for (int i = 0; i < POOL_PAGES; i++) {
        all.add(i);
      }
      java.util.Collections.shuffle(all, rnd);
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        out[i] = all.get(i);
      }
      return out;
    }

    List<Page> pages(int[] idx) {
      List<Page> out = new ArrayList<>();
      for (int i : idx) {
        out.add(pool.mr.page(i));
      }
      return out;
    }

    long pickIova() {
      int p = rnd.nextInt(4);
      long off = p == 0 ? 0 : p == 1 ? 8L * rnd.nextInt(Page.SIZE / 8) : rnd.nextInt(Page.SIZE);
      return ((long) (1 + rnd.nextInt(1 << 20)) << 12) + off;
    }

    // ---- steps ----

    void write(int i) throws Exception {
      Conn c = conns[i];
      Region r = pickTarget();
      int key = pickKey(r);
      int len = 1 + rnd.nextInt(MAX_LEN);
      long addr = pickAddr(r, len);
      int loff = rnd.nextInt(LOCAL - len + 1);
      String why = remoteFailure(key, addr, len, RW);
      boolean ok = why == null;
      what = String.format("pair %d WRITE %d bytes from local %d to 0x%x key 0x%08x of %s (model: %s)", i, len,
          loff, addr, key, r, ok ? "ok" : "REM_ACCESS_ERR, " + why);
      byte[] data = new byte[len];
      rnd.nextBytes(data);
      local[i].mr.buffer().put(loff, data);
      System.arraycopy(data, 0, localModel[i], loff, len);
      c.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(++wrId).sge(Sge.of(local[i].mr, loff, len))
          .remote(addr, key).build());
      if (ok) {
        for (int k = 0; k < len; k++) {
          putByte(r, addr + k, data[k]);
        }
      }
      remoteDone(i, ok, WcOpcode.RDMA_WRITE, len);
    }

    void read(int i) throws Exception {
      Conn c = conns[i];
      Region r = pickTarget();
      int key = pickKey(r);
      int len = 1 + rnd.nextInt(MAX_LEN);
      long addr = pickAddr(r, len);
      int loff = rnd.nextInt(LOCAL - len + 1);
      String why = remoteFailure(key, addr, len, RR);
      boolean ok = why == null;
      what = String.format("pair %d READ %d bytes from 0x%x key 0x%08x of %s to local %d (model: %s)", i, len,
          addr, key, r, loff, ok ? "ok" : "REM_ACCESS_ERR, " + why);
      c.req.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(++wrId).sge(Sge.of(local[i].mr, loff, len))
          .remote(addr, key).build());
      if (ok) {
        for (int k = 0; k < len; k++) {
          localModel[i][loff + k] = getByte(r, addr + k);
        }
      }
      remoteDone(i, ok, WcOpcode.RDMA_READ, len);
    }

    void atomic(int i, boolean cas) throws Exception {
      Conn c = conns[i];
      Region r = pickTarget();
      int key = pickKey(r);
      long addr = pickAtomicAddr(r);
      int loff = rnd.nextInt(LOCAL - 8 + 1);
      String why = remoteFailure(key, addr, 8, RA);
      boolean ok = why == null;
      long a = rnd.nextLong();
      long swap = rnd.nextLong();
      if (cas && ok && rnd.nextBoolean()) {
        a = getLong(r, addr); // the compare matches: the swap happens
      }
      what = String.format("pair %d %s %d/%d at 0x%x key 0x%08x of %s to local %d (model: %s)", i,
          cas ? "CMP_AND_SWP" : "FETCH_AND_ADD", a, swap, addr, key, r, loff, ok ? "ok" : "REM_ACCESS_ERR, " + why);
      c.req.qp.postSend(SendWr.builder(cas ? WrOpcode.ATOMIC_CMP_AND_SWP : WrOpcode.ATOMIC_FETCH_AND_ADD)
          .wrId(++wrId).sge(Sge.of(local[i].mr, loff, 8)).remote(addr, key).atomic(a, swap).build());
      if (ok) {
        long orig = getLong(r, addr);
        if (!cas) {
          putLong(r, addr, orig + a);
        } else if (orig == a) {
          putLong(r, addr, swap);
        }
        ByteBuffer.wrap(localModel[i]).putLong(loff, orig);
      }
      remoteDone(i, ok, cas ? WcOpcode.COMP_SWAP : WcOpcode.FETCH_ADD, 8);
    }

    /** The requester's completion of a one-sided WR; on the expected failure both QPs go to ERR. */
    void remoteDone(int i, boolean ok, WcOpcode opcode, int len) throws Exception {
      Conn c = conns[i];
      WorkCompletion wc = pollOne(c.req.cq);
      if (ok) {
        assertEquals(WcStatus.SUCCESS, wc.status(), ctx() + ": " + wc);
        assertEquals(opcode, wc.opcode(), ctx() + ": " + wc);
        assertEquals(wrId, wc.wrId(), ctx() + ": " + wc);
        count(true);
      } else {
        assertEquals(WcStatus.REM_ACCESS_ERR, wc.status(), ctx() + ": " + wc);
        assertEquals(wrId, wc.wrId(), ctx() + ": " + wc);
        awaitState(c.req.qp, QpState.ERR);
        awaitState(c.resp.qp, QpState.ERR);
        count(false);
        checkAll();
        replace(i);
      }
    }

    int pickAccess() {
      int remote = 0;
      while (remote == 0 && rnd.nextInt(8) != 0) {
        remote = (rnd.nextBoolean() ? RW : 0) | (rnd.nextBoolean() ? RR : 0) | (rnd.nextBoolean() ? RA : 0);
      }
      if (rnd.nextInt(7) != 0) {
        remote = RW | RR | RA;
      }
      boolean needsLw = (remote & (RW | RA)) != 0;
      return remote | (needsLw || rnd.nextBoolean() ? LW : 0);
    }

    void regMr(int i) throws Exception {
      Conn c = conns[i];
      Region r = memRegs.get(rnd.nextInt(memRegs.size()));
      if (r.valid && rnd.nextInt(8) != 0) {
        for (Region m : memRegs) {
          if (!m.valid) {
            r = m;
            break;
          }
        }
      }
      if (r.valid && rnd.nextInt(4) != 0) {
        localInv(i, r.key); // no FREE region: mostly invalidate this one instead (REG_MR on VALID fails)
        return;
      }
      String prep = "";
      if (rnd.nextInt(5) != 0) {
        int k8 = rnd.nextInt(256);
        int k = r.mr.updateFastRegKey(k8);
        r.softKey = (r.softKey & ~0xff) | k8;
        assertEquals(r.softKey, k, ctx() + ": updateFastRegKey's result");
        prep += String.format(" updateFastRegKey(0x%02x)", k8);
      }
      assertEquals(r.softKey, r.mr.lkey(), ctx() + ": lkey of " + r);
      assertEquals(r.softKey, r.mr.rkey(), ctx() + ": rkey of " + r);
      if (r.stagedPages == null || rnd.nextInt(8) != 0) {
        int[] pg = pickPages(MR_PAGES);
        long iova = pickIova();
        long room = (long) pg.length * Page.SIZE - (iova & (Page.SIZE - 1));
        long length = rnd.nextInt(5) < 3 ? room : 1 + (long) (rnd.nextDouble() * room);
        r.mr.mapPages(pages(pg), iova, length);
        r.stagedPages = pg;
        r.stagedIova = iova;
        r.stagedLength = length;
        assertEquals(iova, r.mr.iova(), ctx() + ": iova after mapPages");
        assertEquals(length, r.mr.length(), ctx() + ": length after mapPages");
        prep += String.format(" mapPages(%s, 0x%x, %d)", Arrays.toString(pg), iova, length);
      }
      int access = pickAccess();
      boolean ok = !r.valid;
      what = String.format("pair %d resp REG_MR%s key 0x%08x access %s on %s (model: %s)", i, prep, r.softKey,
          AccessFlags.toString(access), r, ok ? "ok" : "LOC_QP_OP_ERR");
      c.resp.qp.postSend(SendWr.regMr(++wrId, 0, r.mr, r.mr.rkey(), access));
      WorkCompletion wc = pollOne(c.resp.cq);
      assertEquals(wrId, wc.wrId(), ctx() + ": " + wc);
      if (ok) {
        assertEquals(WcStatus.SUCCESS, wc.status(), ctx() + ": " + wc);
        assertEquals(WcOpcode.REG_MR, wc.opcode(), ctx() + ": " + wc);
        assertEquals(0, wc.byteLen(), ctx() + ": " + wc);
        if (r.key != r.softKey) {
          r.oldKeys.add(r.key);
        }
        r.valid = true;
        r.key = r.softKey;
        r.access = access;
        r.pages = r.stagedPages;
        r.iova = r.stagedIova;
        r.length = r.stagedLength;
        assertTrue(r.mr.isValid(), ctx() + ": VALID after REG_MR");
        assertEquals(access, r.mr.access(), ctx() + ": access after REG_MR");
        count(true);
      } else {
        assertEquals(WcStatus.LOC_QP_OP_ERR, wc.status(), ctx() + ": " + wc);
        awaitState(c.resp.qp, QpState.ERR);
        assertEquals(QpState.RTS, c.req.qp.state(), ctx() + ": a local op's failure leaves the peer alone");
        assertTrue(r.mr.isValid(), ctx() + ": still VALID under the old key");
        count(false);
        checkAll();
        replace(i);
      }
    }

    /** Post-time check: REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE is refused at post; nothing changes. */
    void regMrBadAccess(int i) {
      Conn c = conns[i];
      Region r = memRegs.get(rnd.nextInt(memRegs.size()));
      int access = rnd.nextBoolean() ? RW : RA | RR;
      what = String.format("pair %d resp REG_MR with invalid access %s on %s (model: PostException)", i,
          AccessFlags.toString(access), r);
      assertThrows(PostException.class, () -> c.resp.qp.postSend(SendWr.regMr(++wrId, 0, r.mr, r.mr.rkey(), access)),
          ctx());
      assertEquals(QpState.RTS, c.resp.qp.state(), ctx());
    }

    /** A key for LOCAL_INV / SEND_WITH_INV: mostly a fast-reg region's current key, sometimes a wrong one. */
    int pickInvKey() {
      int p = rnd.nextInt(100);
      if (p < 88) {
        return pickKey(preferValid(memRegs)); // mostly VALID, so most invalidations change something
      } else if (p < 93) {
        return fmrs.get(rnd.nextInt(fmrs.size())).key;
      } else if (p < 98) {
        return regions.get(rnd.nextInt(4)).key; // USER regions, one in another PD
      } else {
        Region r = memRegs.get(rnd.nextInt(memRegs.size()));
        return (r.key & ~0xff) | ((r.key + 1 + rnd.nextInt(255)) & 0xff);
      }
    }

    void localInv(int i) throws Exception {
      localInv(i, pickInvKey());
    }

    void localInv(int i, int key) throws Exception {
      Conn c = conns[i];
      Region r = invalidates(key);
      what = String.format("pair %d resp LOCAL_INV 0x%08x (model: %s)", i, key, r == null ? "LOC_QP_OP_ERR" : "ok, " + r);
      c.resp.qp.postSend(SendWr.localInv(++wrId, 0, key));
      WorkCompletion wc = pollOne(c.resp.cq);
      assertEquals(wrId, wc.wrId(), ctx() + ": " + wc);
      if (r != null) {
        assertEquals(WcStatus.SUCCESS, wc.status(), ctx() + ": " + wc);
        assertEquals(WcOpcode.LOCAL_INV, wc.opcode(), ctx() + ": " + wc);
        r.valid = false;
        assertTrue(!r.mr.isValid() && r.mr.access() == 0, ctx() + ": FREE after LOCAL_INV");
        count(true);
      } else {
        assertEquals(WcStatus.LOC_QP_OP_ERR, wc.status(), ctx() + ": " + wc);
        awaitState(c.resp.qp, QpState.ERR);
        assertEquals(QpState.RTS, c.req.qp.state(), ctx() + ": a local op's failure leaves the peer alone");
        count(false);
        checkAll();
        replace(i);
      }
    }

    void sendWithInv(int i) throws Exception {
      Conn c = conns[i];
      int key = pickInvKey();
      Region r = invalidates(key);
      int len = rnd.nextInt(5) == 0 ? 0 : 1 + rnd.nextInt(512);
      int cap = Math.max(len, 1) + rnd.nextInt(64);
      int roff = rnd.nextInt(RBUF - cap + 1);
      int loff = rnd.nextInt(LOCAL - len + 1);
      byte[] data = new byte[len];
      if (r != null) {
        rnd.nextBytes(data);
      } else {
        // Whether a failing SEND_WITH_INV places its data first is not the model's business: send the bytes
        // the receive buffer holds already, so either way they stay.
        System.arraycopy(rbufModel[i], roff, data, 0, len);
      }
      local[i].mr.buffer().put(loff, data);
      System.arraycopy(data, 0, localModel[i], loff, len);
      what = String.format("pair %d SEND_WITH_INV 0x%08x, %d bytes from local %d into rbuf %d (model: %s)", i, key,
          len, loff, roff, r == null ? "REM_INV_REQ_ERR" : "ok, " + r);
      long recvId = ++wrId;
      c.resp.qp.postRecv(RecvWr.of(recvId, Sge.of(rbuf[i].mr, roff, cap)));
      long sendId = ++wrId;
      c.req.qp.postSend(len == 0 ? SendWr.sendWithInv(sendId, 0, key)
          : SendWr.sendWithInv(sendId, 0, key, Sge.of(local[i].mr, loff, len)));
      WorkCompletion sent = pollOne(c.req.cq);
      WorkCompletion recv = pollOne(c.resp.cq);
      assertEquals(sendId, sent.wrId(), ctx() + ": " + sent);
      assertEquals(recvId, recv.wrId(), ctx() + ": " + recv);
      if (r != null) {
        assertEquals(WcStatus.SUCCESS, sent.status(), ctx() + ": " + sent);
        assertEquals(WcOpcode.SEND, sent.opcode(), ctx() + ": " + sent);
        assertEquals(WcStatus.SUCCESS, recv.status(), ctx() + ": " + recv);
        assertEquals(WcOpcode.RECV, recv.opcode(), ctx() + ": " + recv);
        assertEquals(len, recv.byteLen(), ctx() + ": " + recv);
        assertTrue((recv.wcFlags() & WcFlags.WITH_INVALIDATE) != 0, ctx() + ": WITH_INVALIDATE in " + recv);
        assertEquals(key, recv.invalidatedRkey(), ctx() + ": " + recv);
        System.arraycopy(data, 0, rbufModel[i], roff, len);
        r.valid = false;
        assertTrue(!r.mr.isValid(), ctx() + ": FREE after SEND_WITH_INV");
        count(true);
      } else {
        assertEquals(WcStatus.REM_INV_REQ_ERR, recv.status(), ctx() + ": " + recv);
        assertEquals(WcStatus.REM_INV_REQ_ERR, sent.status(), ctx() + ": " + sent);
        awaitState(c.req.qp, QpState.ERR);
        awaitState(c.resp.qp, QpState.ERR);
        count(false);
        checkAll();
        replace(i);
      }
    }

    void fmrMap() {
      Region r = fmrs.get(rnd.nextInt(fmrs.size()));
      int[] pg = pickPages(FMR_PAGES);
      long iova = pickIova();
      what = String.format("mapPhys(%s, 0x%x) on %s after %d maps", Arrays.toString(pg), iova, r, r.maps);
      if (r.maps >= r.fmr.maxMaps()) {
        assertThrows(InvalidArgumentException.class, () -> r.fmr.mapPhys(pages(pg), iova), ctx());
        return;
      }
      int key = r.fmr.mapPhys(pages(pg), iova);
      // The next key of the slot: the next variant, and past variant 255 the next index of the same slot.
      assertEquals((r.key + 1) & 0xff, key & 0xff, ctx() + ": mapPhys's key variant");
      if ((r.key & 0xff) != 0xff) {
        assertEquals(r.key >>> 8, key >>> 8, ctx() + ": mapPhys keeps the key index");
      }
      assertFalse(r.oldKeys.contains(key), ctx() + ": mapPhys gave an old key again");
      if (r.valid) {
        r.oldKeys.add(r.key);
      }
      r.valid = true;
      r.key = key;
      r.pages = pg;
      r.iova = iova;
      r.length = (long) pg.length * Page.SIZE - (iova & (Page.SIZE - 1));
      r.maps++;
      assertTrue(r.fmr.isMapped(), ctx());
      assertEquals(key, r.fmr.lkey(), ctx());
      assertEquals(key, r.fmr.rkey(), ctx() + ": an FMR with a remote right has rkey == lkey");
      assertEquals(iova, r.fmr.iova(), ctx());
      assertEquals(r.length, r.fmr.length(), ctx());
    }

    void fmrUnmap() throws Exception {
      Region r = fmrs.get(rnd.nextInt(fmrs.size()));
      what = "unmap of " + r;
      int old = r.key;
      await(r.fmr.unmap());
      if (r.valid) {
        r.oldKeys.add(old);
      }
      r.valid = false;
      r.maps = 0;
      r.key = r.fmr.lkey();
      assertTrue(!r.fmr.isMapped() && r.fmr.iova() == 0 && r.fmr.length() == 0, ctx() + ": unmapped");
      assertTrue((r.key >>> 8) != (old >>> 8), ctx() + String.format(": unmap moves to a fresh key slot, key 0x%08x", r.key));
    }

    // ---- checks ----

    void checkAll() {
      String ctx = ctx();
      assertModel(poolModel, ConformanceFixture.read(pool.mr, 0, pool.len), ctx + ": page pool");
      pool.assertGuards(ctx + ": page pool");
      for (Region r : regions) {
        if (r.kind == Kind.USER && r.user != pool) {
          assertModel(r.bytes, ConformanceFixture.read(r.mr, 0, r.user.len), ctx + ": USER region " + r.name);
          r.user.assertGuards(ctx + ": USER region " + r.name);
        }
      }
      for (int i = 0; i < PAIRS; i++) {
        assertModel(localModel[i], ConformanceFixture.read(local[i].mr, 0, LOCAL), ctx + ": local buffer " + i);
        local[i].assertGuards(ctx + ": local buffer " + i);
        assertModel(rbufModel[i], ConformanceFixture.read(rbuf[i].mr, 0, RBUF), ctx + ": receive buffer " + i);
        rbuf[i].assertGuards(ctx + ": receive buffer " + i);
        assertCqEmpty(conns[i].req.cq);
        assertCqEmpty(conns[i].resp.cq);
      }
      for (Region r : memRegs) {
        assertEquals(r.valid, r.mr.isValid(), ctx + ": VALID state of " + r);
      }
      for (Region r : fmrs) {
        assertEquals(r.valid, r.fmr.isMapped(), ctx + ": mapped state of " + r);
      }
    }
  }

  private static String describe(java.util.Map<String, int[]> stats) {
    StringBuilder b = new StringBuilder();
    stats.forEach((k, v) -> b.append(k).append(' ').append(v[0]).append('/').append(v[1]).append(' '));
    return b.toString().trim();
  }

  private static void assertModel(byte[] model, byte[] actual, String what) {
    int i = Arrays.mismatch(model, actual);
    if (i >= 0) {
      throw new AssertionError(what + ": first difference at offset " + i + ": model " + model[i] + ", memory "
          + actual[i]);
    }
  }
}
