package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import java.nio.ByteBuffer;

/**
 * Helpers of the one-sided contracts ({@link OneSidedWriteContract}, {@link ReadAtomicContract}, ...): a requester/responder RC pair on top of
 * {@link ConformanceFixture}, with the responder's target region registered as a slice inside a larger buffer so
 * that guard bytes on both sides show any write outside the region. The helpers that make objects may
 * sleep: call them from the test's thread.
 */
public final class OneSidedFixture {
  private OneSidedFixture() {}

  public static final int GUARD = 64;
  public static final byte GUARD_BYTE = (byte) 0xA5;
  public static final QpCap CAP = new QpCap(64, 64, 4, 4, 0);
  public static final int ALL_REMOTE = AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC;
  public static final int MR_ALL = AccessFlags.LOCAL_WRITE | ALL_REMOTE;

  /** Reliable transport parameters (as {@link ConformanceFixture#RELIABLE}) with the given QP access and max_rd_atomic. */
  public static QpConnect.Params params(int qpAccess, int maxRdAtomic) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, 7, 1, maxRdAtomic, 16);
  }

  /** Same, with an RNR retry count (the RNR timer shortest). */
  public static QpConnect.Params params(int qpAccess, int maxRdAtomic, int rnrRetry) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, rnrRetry, 1, maxRdAtomic, 16);
  }

  /** A region that is a slice of a larger buffer, {@link #GUARD} guard bytes on each side. */
  public static final class Guarded {
    public final ByteBuffer outer;
    public final MemoryRegion mr;
    public final int len;

    Guarded(ByteBuffer outer, MemoryRegion mr, int len) {
      this.outer = outer;
      this.mr = mr;
      this.len = len;
    }

    /** All bytes, guards included. */
    public byte[] snapshot() {
      byte[] out = new byte[outer.capacity()];
      outer.get(0, out);
      return out;
    }

    public void assertGuards(String what) {
      for (int i = 0; i < outer.capacity(); i++) {
        if (i >= GUARD && i < GUARD + len) {
          continue;
        }
        if (outer.get(i) != GUARD_BYTE) {
          fail(what + ": guard byte at outer offset " + i + " (region offset " + (i - GUARD) + ") changed to "
              + outer.get(i));
        }
      }
    }

    public void assertUnchanged(byte[] before, String what) {
      byte[] now = snapshot();
      for (int i = 0; i < now.length; i++) {
        if (now[i] != before[i]) {
          fail(what + ": byte at outer offset " + i + " (region offset " + (i - GUARD) + ") changed from "
              + before[i] + " to " + now[i]);
        }
      }
    }
  }

  /** Registers {@code len} bytes (filled with pattern {@code seed}) inside guards, in {@code pd}. */
  public static Guarded guarded(ProtectionDomain pd, int len, int access, int seed) throws Exception {
    ByteBuffer outer = ByteBuffer.allocateDirect(len + 2 * GUARD);
    for (int i = 0; i < outer.capacity(); i++) {
      outer.put(i, GUARD_BYTE);
    }
    ByteBuffer slice = outer.slice(GUARD, len);
    for (int i = 0; i < len; i++) {
      slice.put(i, ConformanceFixture.pattern(seed, i));
    }
    MemoryRegion mr = await(pd.registerMr(slice, access));
    return new Guarded(outer, mr, len);
  }

  /** A connected RC pair: {@code req} posts, {@code resp} owns {@code target}. */
  public static final class Pair {
    public final ConformanceFixture.Side req;
    public final ConformanceFixture.Side resp;
    public final Guarded target;

    Pair(ConformanceFixture.Side req, ConformanceFixture.Side resp, Guarded target) {
      this.req = req;
      this.resp = resp;
      this.target = target;
    }

    public long addr(long off) {
      return target.mr.iova() + off;
    }

    public int rkey() {
      return target.mr.rkey();
    }
  }

  /**
   * Two devices, an RC QP on each (CQ depth 256, local MRs of {@code localBytes}); the responder QP accepts
   * {@code respQpAccess}, its target region has {@code targetLen} bytes and {@code mrAccess}.
   */
  public static Pair pair(ConformanceFixture f, int localBytes, int targetLen, int mrAccess, int respQpAccess,
      QpConnect.Params reqParams) throws Exception {
    ConformanceFixture.Side a = f.side(256, localBytes, null);
    ConformanceFixture.Side b = f.side(256, localBytes, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
    Guarded target = guarded(b.pd, targetLen, mrAccess, 3);
    ConformanceFixture.connect(a, b, reqParams, params(respQpAccess, 16));
    return new Pair(a, b, target);
  }

  public static Pair pair(ConformanceFixture f) throws Exception {
    return pair(f, 65536, 4096, MR_ALL, ALL_REMOTE, ConformanceFixture.RELIABLE);
  }

  public static long getLong(Guarded g, int off) {
    return g.mr.buffer().getLong(off);
  }
}
