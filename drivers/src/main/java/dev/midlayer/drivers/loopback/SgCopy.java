package dev.midlayer.drivers.loopback;

import dev.midlayer.verbs.AccessFlags;
import dev.midlayer.verbs.KeyTable;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.Sge;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Scatter/gather copies between registered memory, with the local protection checks of IB: every SGE's
 * key must resolve to a valid region of the QP's protection domain, cover {@code [addr, addr+length)},
 * and (for writes) grant LOCAL_WRITE. One bulk {@code ByteBuffer.put} per contiguous piece, no
 * intermediate copy.
 */
final class SgCopy {
  private SgCopy() {}

  /** True if every SGE resolves in {@code pd} with the needed rights. */
  static boolean check(List<Sge> sges, KeyTable keys, ProtectionDomain pd, boolean write) {
    for (int i = 0; i < sges.size(); i++) {
      if (resolve(sges.get(i), keys, pd, write) == null) {
        return false;
      }
    }
    return true;
  }

  /** The region of {@code sge}, or null if the key, PD, range or rights do not fit. */
  static MemoryRegion resolve(Sge sge, KeyTable keys, ProtectionDomain pd, boolean write) {
    MemoryRegion mr = keys.lookup(sge.lkey());
    if (mr == null || mr.lkey() != sge.lkey() || !mr.isValid() || mr.pd() != pd
        || !mr.contains(sge.addr(), sge.length())) {
      return null;
    }
    if (write && (mr.access() & AccessFlags.LOCAL_WRITE) == 0) {
      return null;
    }
    return mr;
  }

  /** Copies the bytes of {@code src} SGEs (already checked) into a new array. */
  static byte[] gather(List<Sge> src, KeyTable keys) {
    long total = 0;
    for (Sge s : src) {
      total += s.length();
    }
    byte[] out = new byte[(int) total];
    int pos = 0;
    for (Sge s : src) {
      MemoryRegion mr = keys.lookup(s.lkey());
      mr.buffer().get((int) (s.addr() - mr.iova()), out, pos, s.length());
      pos += s.length();
    }
    return out;
  }

  /**
   * Scatters {@code length} bytes from a source (either {@code srcBytes}, or the SGEs {@code srcSges} of
   * {@code srcKeys}) into {@code dst} SGEs of {@code dstKeys}, starting {@code dstSkip} bytes into the
   * destination (the GRH area of UD receives). Both sides must have been checked.
   */
  static void copy(byte[] srcBytes, List<Sge> srcSges, KeyTable srcKeys, long length,
      List<Sge> dst, KeyTable dstKeys, int dstSkip) {
    int di = 0;
    long dOff = dstSkip;
    // Advance the destination past the skipped bytes.
    while (di < dst.size() && dOff >= dst.get(di).length()) {
      dOff -= dst.get(di).length();
      di++;
    }
    int si = 0;
    long sOff = 0;
    long left = length;
    while (left > 0) {
      Sge d = dst.get(di);
      MemoryRegion dmr = dstKeys.lookup(d.lkey());
      ByteBuffer dbuf = dmr.buffer();
      int dIndex = (int) (d.addr() - dmr.iova() + dOff);
      int dRoom = (int) (d.length() - dOff);
      int n;
      if (srcBytes != null) {
        n = (int) Math.min(dRoom, left);
        dbuf.put(dIndex, srcBytes, (int) (length - left), n);
      } else {
        Sge s = srcSges.get(si);
        MemoryRegion smr = srcKeys.lookup(s.lkey());
        int sIndex = (int) (s.addr() - smr.iova() + sOff);
        int sRoom = (int) (s.length() - sOff);
        n = (int) Math.min(Math.min(dRoom, sRoom), left);
        dbuf.put(dIndex, smr.buffer(), sIndex, n);
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
