package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.await;
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
 * Helpers of the one-sided tests ({@code OneSided*Test}): a requester/responder RC pair on top of
 * {@link DpFixture}, with the responder's target region registered as a slice inside a larger buffer so
 * that guard bytes on both sides show any write outside the region.
 */
final class OneSidedFixture {
  private OneSidedFixture() {}

  static final int GUARD = 64;
  static final byte GUARD_BYTE = (byte) 0xA5;
  static final QpCap CAP = new QpCap(64, 64, 4, 4, 0);
  static final int ALL_REMOTE = AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC;
  static final int MR_ALL = AccessFlags.LOCAL_WRITE | ALL_REMOTE;

  /** Reliable transport parameters (as {@link DpFixture#RELIABLE}) with the given QP access and max_rd_atomic. */
  static QpConnect.Params params(int qpAccess, int maxRdAtomic) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, 7, 1, maxRdAtomic, 16);
  }

  /** Same, with an RNR retry count (the RNR timer shortest). */
  static QpConnect.Params params(int qpAccess, int maxRdAtomic, int rnrRetry) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, rnrRetry, 1, maxRdAtomic, 16);
  }

  /** A region that is a slice of a larger buffer, {@link #GUARD} guard bytes on each side. */
  static final class Guarded {
    final ByteBuffer outer;
    final MemoryRegion mr;
    final int len;

    Guarded(ByteBuffer outer, MemoryRegion mr, int len) {
      this.outer = outer;
      this.mr = mr;
      this.len = len;
    }

    /** All bytes, guards included. */
    byte[] snapshot() {
      byte[] out = new byte[outer.capacity()];
      outer.get(0, out);
      return out;
    }

    void assertGuards(String what) {
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

    void assertUnchanged(byte[] before, String what) {
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
  static Guarded guarded(ProtectionDomain pd, int len, int access, int seed) throws Exception {
    ByteBuffer outer = ByteBuffer.allocateDirect(len + 2 * GUARD);
    for (int i = 0; i < outer.capacity(); i++) {
      outer.put(i, GUARD_BYTE);
    }
    ByteBuffer slice = outer.slice(GUARD, len);
    for (int i = 0; i < len; i++) {
      slice.put(i, DpFixture.pattern(seed, i));
    }
    MemoryRegion mr = await(pd.registerMr(slice, access));
    return new Guarded(outer, mr, len);
  }

  /** A connected RC pair: {@code req} posts, {@code resp} owns {@code target}. */
  static final class Pair {
    final DpFixture.Side req;
    final DpFixture.Side resp;
    final Guarded target;

    Pair(DpFixture.Side req, DpFixture.Side resp, Guarded target) {
      this.req = req;
      this.resp = resp;
      this.target = target;
    }

    long addr(long off) {
      return target.mr.iova() + off;
    }

    int rkey() {
      return target.mr.rkey();
    }
  }

  /**
   * Two devices, an RC QP on each (CQ depth 256, local MRs of {@code localBytes}); the responder QP accepts
   * {@code respQpAccess}, its target region has {@code targetLen} bytes and {@code mrAccess}.
   */
  static Pair pair(DpFixture f, int localBytes, int targetLen, int mrAccess, int respQpAccess,
      QpConnect.Params reqParams) throws Exception {
    DpFixture.Side a = f.side(256, localBytes, null);
    DpFixture.Side b = f.side(256, localBytes, null);
    DpFixture.createQp(a, QpType.RC, CAP, true);
    DpFixture.createQp(b, QpType.RC, CAP, true);
    Guarded target = guarded(b.pd, targetLen, mrAccess, 3);
    DpFixture.connect(a, b, reqParams, params(respQpAccess, 16));
    return new Pair(a, b, target);
  }

  static Pair pair(DpFixture f) throws Exception {
    return pair(f, 65536, 4096, MR_ALL, ALL_REMOTE, DpFixture.RELIABLE);
  }

  static long getLong(Guarded g, int off) {
    return g.mr.buffer().getLong(off);
  }
}
