package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.SgList;

/**
 * Scatter/gather copies between registered memory, with the local protection checks of IB: every SGE's
 * key must be the lkey of a VALID region of the QP's protection domain, cover {@code [addr, addr+length)},
 * and (for writes) grant LOCAL_WRITE. Keys are resolved once per access into {@link MemoryMapping}
 * snapshots, so a key invalidated by another thread mid-copy cannot tear the copy. One bulk
 * {@code ByteBuffer.put} per piece that is contiguous on both sides (a page of a fast-registration region,
 * or the whole region), no intermediate copy.
 *
 * <p>Threading: stateless and lock-free (keys resolve through {@link MemoryKeys}, which takes no lock); every
 * method never blocks and may be called from any thread, driver actors' turns and atomic context included.
 */
public final class SgCopy {
  private SgCopy() {}

  /** True if every SGE resolves in protection domain {@code pd} with the needed rights. Allocates nothing. */
  public static boolean check(SgList sg, MemoryKeys keys, int pd, boolean write) {
    for (int i = 0, n = sg.sgeCount(); i < n; i++) {
      if (resolve(sg, i, keys, pd, write) == null) {
        return false;
      }
    }
    return true;
  }

  /** The mapping of element {@code i} of {@code sg}, or null if the key, PD, range or rights do not fit. */
  public static MemoryMapping resolve(SgList sg, int i, MemoryKeys keys, int pd, boolean write) {
    int lkey = sg.sgeLkey(i);
    MemoryMapping m = keys.resolve(lkey);
    if (m == null || m.lkey() != lkey || m.pdHandle() != pd || !m.contains(sg.sgeAddr(i), sg.sgeLength(i))) {
      return null;
    }
    if (write && !m.allows(AccessFlags.LOCAL_WRITE)) {
      return null;
    }
    return m;
  }

  /** The mappings of all elements of {@code sg}, or null if one does not resolve. */
  public static MemoryMapping[] resolveAll(SgList sg, MemoryKeys keys, int pd, boolean write) {
    MemoryMapping[] maps = new MemoryMapping[sg.sgeCount()];
    for (int i = 0; i < maps.length; i++) {
      if ((maps[i] = resolve(sg, i, keys, pd, write)) == null) {
        return null;
      }
    }
    return maps;
  }

  /** Copies the bytes of the resolved {@code src} elements into a new array of {@code total} bytes. */
  public static byte[] gather(SgList src, MemoryMapping[] maps, long total) {
    byte[] out = new byte[(int) total];
    int pos = 0;
    for (int i = 0; i < maps.length; i++) {
      maps[i].get(src.sgeAddr(i), out, pos, src.sgeLength(i));
      pos += src.sgeLength(i);
    }
    return out;
  }

  /**
   * Copies {@code length} bytes from a source (either {@code srcBytes}, or the elements {@code src} resolved
   * as {@code srcMaps}) into the elements {@code dst} resolved as {@code dstMaps}, starting {@code dstSkip}
   * bytes into the destination (the GRH area of UD receives). Everything must have been resolved and fit.
   */
  public static void copy(byte[] srcBytes, SgList src, MemoryMapping[] srcMaps, long length, SgList dst,
      MemoryMapping[] dstMaps, long dstSkip) {
    int di = 0;
    long dOff = dstSkip;
    while (di < dst.sgeCount() && dOff >= dst.sgeLength(di) && dOff > 0) {
      dOff -= dst.sgeLength(di);
      di++;
    }
    int si = 0;
    long sOff = 0;
    long left = length;
    while (left > 0) {
      MemoryMapping dm = dstMaps[di];
      long dRoom = dst.sgeLength(di) - dOff;
      long n;
      if (srcBytes != null) {
        n = Math.min(dRoom, left);
        dm.put(dst.sgeAddr(di) + dOff, srcBytes, (int) (length - left), (int) n);
      } else {
        n = Math.min(Math.min(dRoom, src.sgeLength(si) - sOff), left);
        MemoryMapping.copy(srcMaps[si], src.sgeAddr(si) + sOff, dm, dst.sgeAddr(di) + dOff, n);
        sOff += n;
        if (sOff == src.sgeLength(si)) {
          si++;
          sOff = 0;
        }
      }
      left -= n;
      dOff += n;
      if (dOff == dst.sgeLength(di)) {
        di++;
        dOff = 0;
      }
    }
  }
}
