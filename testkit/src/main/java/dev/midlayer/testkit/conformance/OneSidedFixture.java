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
 * that guard bytes on both sides show any write outside the region.
 *
 * <p>Threading: the helpers that make objects ({@link #guarded}, {@link #pair}) may sleep: call them from the
 * test's thread. The others never block and may be called from any thread.
 */
public final class OneSidedFixture {
  private OneSidedFixture() {}

  public static final int GUARD = 64;
  public static final byte GUARD_BYTE = (byte) 0xA5;
  public static final QpCap CAP = new QpCap(64, 64, 4, 4, 0);
  public static final int ALL_REMOTE = AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC;
  public static final int MR_ALL = AccessFlags.LOCAL_WRITE | ALL_REMOTE;

  /**
   * Reliable transport parameters (as {@link ConformanceFixture#RELIABLE}) with the given QP access and
   * max_rd_atomic. Never blocks.
   */
  public static QpConnect.Params params(int qpAccess, int maxRdAtomic) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, 7, 1, maxRdAtomic, 16);
  }

  /** Same, with an RNR retry count (the RNR timer shortest). Never blocks. */
  public static QpConnect.Params params(int qpAccess, int maxRdAtomic, int rnrRetry) {
    return new QpConnect.Params(1, qpAccess, Mtu.MTU_4096, 24, 7, rnrRetry, 1, maxRdAtomic, 16);
  }

  /**
   * A region that is a slice of a larger buffer, {@link #GUARD} guard bytes on each side. Its methods read the
   * buffer: they never block and may be called from any thread.
   */
  public static final class Guarded {
    public final ByteBuffer outer;
    public final MemoryRegion mr;
    public final int len;

    Guarded(ByteBuffer outer, MemoryRegion mr, int len) {
      this.outer = outer;
      this.mr = mr;
      this.len = len;
    }

    /** All bytes, guards included. Never blocks. */
    public byte[] snapshot() {
      byte[] out = new byte[outer.capacity()];
      outer.get(0, out);
      return out;
    }

    /** Fails, naming the offset, if a guard byte changed ({@code what} names the operation). Never blocks. */
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

    /** Fails, naming the offset, if any byte (guards included) differs from {@code before}. Never blocks. */
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

  /**
   * Registers {@code len} bytes (filled with pattern {@code seed}) inside guards, in {@code pd}. Blocks until the
   * registration completed; test thread.
   */
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

  /**
   * A connected RC pair: {@code req} posts, {@code resp} owns {@code target}. Its methods never block and may be
   * called from any thread.
   */
  public static final class Pair {
    public final ConformanceFixture.Side req;
    public final ConformanceFixture.Side resp;
    public final Guarded target;

    Pair(ConformanceFixture.Side req, ConformanceFixture.Side resp, Guarded target) {
      this.req = req;
      this.resp = resp;
      this.target = target;
    }

    /** The address of offset {@code off} of the target region, for a one-sided WR. Never blocks. */
    public long addr(long off) {
      return target.mr.iova() + off;
    }

    /** The target region's R_Key. Never blocks. */
    public int rkey() {
      return target.mr.rkey();
    }
  }

  /**
   * Two devices, an RC QP on each (CQ depth 256, local MRs of {@code localBytes}); the responder QP accepts
   * {@code respQpAccess}, its target region has {@code targetLen} bytes and {@code mrAccess}. May sleep (it
   * waits for every verb): test thread.
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

  /**
   * The usual pair: local MRs of 64 KiB, a 4 KiB target with every remote access, {@link ConformanceFixture#RELIABLE}.
   * May sleep: test thread.
   */
  public static Pair pair(ConformanceFixture f) throws Exception {
    return pair(f, 65536, 4096, MR_ALL, ALL_REMOTE, ConformanceFixture.RELIABLE);
  }

  /** The long at offset {@code off} of {@code g}'s region. Never blocks; any thread. */
  public static long getLong(Guarded g, int off) {
    return g.mr.buffer().getLong(off);
  }
}
