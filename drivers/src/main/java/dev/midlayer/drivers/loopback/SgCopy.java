package dev.midlayer.drivers.loopback;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.verbs.KeyTable;
import dev.midlayer.verbs.MrMapping;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.Sge;
import java.util.List;

/**
 * Scatter/gather copies between registered memory, with the local protection checks of IB: every SGE's
 * key must be the lkey of a VALID region of the QP's protection domain, cover {@code [addr, addr+length)},
 * and (for writes) grant LOCAL_WRITE. Keys are resolved once per access into {@link MrMapping} snapshots,
 * so a key invalidated by another thread mid-copy cannot tear the copy. One bulk {@code ByteBuffer.put}
 * per piece that is contiguous on both sides (a page of a fast-registration region, or the whole region),
 * no intermediate copy.
 */
final class SgCopy {
  private SgCopy() {}

  /** True if every SGE resolves in {@code pd} with the needed rights. Allocates nothing. */
  static boolean check(List<Sge> sges, KeyTable keys, ProtectionDomain pd, boolean write) {
    for (int i = 0; i < sges.size(); i++) {
      if (resolve(sges.get(i), keys, pd, write) == null) {
        return false;
      }
    }
    return true;
  }

  /** The mapping of {@code sge}, or null if the key, PD, range or rights do not fit. */
  static MrMapping resolve(Sge sge, KeyTable keys, ProtectionDomain pd, boolean write) {
    MrMapping m = keys.resolve(sge.lkey());
    if (m == null || m.lkey() != sge.lkey() || m.pd() != pd || !m.contains(sge.addr(), sge.length())) {
      return null;
    }
    if (write && !m.allows(AccessFlags.LOCAL_WRITE)) {
      return null;
    }
    return m;
  }

  /** The mappings of all {@code sges}, or null if one does not resolve. */
  static MrMapping[] resolveAll(List<Sge> sges, KeyTable keys, ProtectionDomain pd, boolean write) {
    MrMapping[] maps = new MrMapping[sges.size()];
    for (int i = 0; i < maps.length; i++) {
      if ((maps[i] = resolve(sges.get(i), keys, pd, write)) == null) {
        return null;
      }
    }
    return maps;
  }

  /** Copies the bytes of the resolved {@code src} SGEs into a new array. */
  static byte[] gather(List<Sge> src, MrMapping[] maps) {
    long total = 0;
    for (Sge s : src) {
      total += s.length();
    }
    byte[] out = new byte[(int) total];
    int pos = 0;
    for (int i = 0; i < maps.length; i++) {
      Sge s = src.get(i);
      maps[i].get(s.addr(), out, pos, s.length());
      pos += s.length();
    }
    return out;
  }

  /**
   * Copies {@code length} bytes from a source (either {@code srcBytes}, or the SGEs {@code src} resolved as
   * {@code srcMaps}) into the SGEs {@code dst} resolved as {@code dstMaps}, starting {@code dstSkip} bytes
   * into the destination (the GRH area of UD receives). Everything must have been resolved and fit.
   */
  static void copy(byte[] srcBytes, List<Sge> src, MrMapping[] srcMaps, long length,
      List<Sge> dst, MrMapping[] dstMaps, long dstSkip) {
    int di = 0;
    long dOff = dstSkip;
    while (di < dst.size() && dOff >= dst.get(di).length() && dOff > 0) {
      dOff -= dst.get(di).length();
      di++;
    }
    int si = 0;
    long sOff = 0;
    long left = length;
    while (left > 0) {
      Sge d = dst.get(di);
      MrMapping dm = dstMaps[di];
      long dRoom = d.length() - dOff;
      long n;
      if (srcBytes != null) {
        n = Math.min(dRoom, left);
        dm.put(d.addr() + dOff, srcBytes, (int) (length - left), (int) n);
      } else {
        Sge s = src.get(si);
        n = Math.min(Math.min(dRoom, s.length() - sOff), left);
        MrMapping.copy(srcMaps[si], s.addr() + sOff, dm, d.addr() + dOff, n);
        sOff += n;
        if (sOff == s.length()) {
          si++;
          sOff = 0;
        }
      }
      left -= n;
      dOff += n;
      if (dOff == d.length()) {
        di++;
        dOff = 0;
      }
    }
  }
}
