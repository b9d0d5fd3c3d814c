package dev.midlayer.verbs;

import dev.midlayer.ib.AccessFlags;
import java.nio.ByteBuffer;

/**
 * Internal API for drivers: what a memory key resolves to while its region is VALID: the keys, the rights,
 * the protection domain and the translation from I/O virtual addresses to bytes. Immutable: registering,
 * invalidating, remapping or deregistering a region publishes a new mapping (or none), so a driver that
 * resolves a key once ({@link KeyTable#resolve}) works on one consistent snapshot for the whole access,
 * even if another thread invalidates the key meanwhile.
 *
 * <p>The bytes are one buffer ({@link ProtectionDomain#registerMr}) or a list of {@link Page}s (fast
 * registration and FMRs). Byte {@code iova + k} is byte {@code k + firstOffset} of the pages laid end to
 * end, where {@code firstOffset} is the iova's offset in a page. {@link #run} tells how many bytes from an
 * address are contiguous in one buffer, so copies go piece by piece without any intermediate copy.
 */
public final class MrMapping {
  private final MemoryRegion region;
  private final int lkey;
  private final int rkey;
  private final int access;
  private final long iova;
  private final long length;
  private final ByteBuffer[] pieces;
  private final int shift;
  private final long mask;
  private final long firstOffset;
  private final boolean valid;
  /** FMR only: maps since the key's slot was last taken (its variants used). */
  final int maps;

  private MrMapping(MemoryRegion region, int lkey, int rkey, int access, long iova, long length,
      ByteBuffer[] pieces, int shift, long firstOffset, boolean valid, int maps) {
    this.region = region;
    this.lkey = lkey;
    this.rkey = rkey;
    this.access = access;
    this.iova = iova;
    this.length = length;
    this.pieces = pieces;
    this.shift = shift;
    this.mask = (1L << shift) - 1;
    this.firstOffset = firstOffset;
    this.valid = valid;
    this.maps = maps;
  }

  /** One contiguous buffer. */
  static MrMapping contiguous(MemoryRegion region, int lkey, int rkey, int access, long iova, ByteBuffer buffer) {
    return new MrMapping(region, lkey, rkey, access, iova, buffer.capacity(), new ByteBuffer[] {buffer}, 62, 0,
        true, 0);
  }

  /** {@code length} bytes of {@code pages} from {@code iova}; the iova's page offset is the offset in the first page. */
  static MrMapping paged(MemoryRegion region, int key, int access, long iova, long length, Page[] pages, int maps) {
    ByteBuffer[] pieces = new ByteBuffer[pages.length];
    for (int i = 0; i < pages.length; i++) {
      pieces[i] = pages[i].bytes();
    }
    int rkey = AccessFlags.anyRemote(access) ? key : 0;
    return new MrMapping(region, key, rkey, access, iova, length, pieces, Page.SHIFT, iova & (Page.SIZE - 1),
        true, maps);
  }

  /** The same translation under another key, rights and map count (REG_MR of a staged list, an FMR map). */
  MrMapping withKey(int key, int newAccess, int newMaps) {
    int newRkey = AccessFlags.anyRemote(newAccess) ? key : 0;
    return new MrMapping(region, key, newRkey, newAccess, iova, length, pieces, shift, firstOffset, true, newMaps);
  }

  /** No translation: the region is FREE (or unmapped) and {@code key} is its next key. */
  static MrMapping free(MemoryRegion region, int key, int maps) {
    return new MrMapping(region, key, key, 0, 0, 0, new ByteBuffer[0], 62, 0, false, maps);
  }

  /** The region. */
  public MemoryRegion region() {
    return region;
  }

  /** The region's protection domain. */
  public ProtectionDomain pd() {
    return region.pd();
  }

  /** The local key. */
  public int lkey() {
    return lkey;
  }

  /** The remote key, or 0 if no remote right was granted. */
  public int rkey() {
    return rkey;
  }

  /** The {@link AccessFlags} granted. */
  public int access() {
    return access;
  }

  /** True if every bit of {@code rights} ({@link AccessFlags}) was granted. */
  public boolean allows(int rights) {
    return (access & rights) == rights;
  }

  /** The first I/O virtual address. */
  public long iova() {
    return iova;
  }

  /** Length in bytes. */
  public long length() {
    return length;
  }

  /** True while the key works (false for a FREE fast-registration region or an unmapped FMR). */
  public boolean isValid() {
    return valid;
  }

  /** True if {@code key} is this mapping's lkey or (non-zero) rkey and the mapping is valid. */
  boolean matches(int key) {
    return valid && (key == lkey || (rkey != 0 && key == rkey));
  }

  /**
   * True if {@code [addr, addr + len)} lies inside the region. Addresses are unsigned 64-bit, as in IB;
   * a region never wraps past 2^64, so an address below the iova gives a huge offset and fails.
   */
  public boolean contains(long addr, long len) {
    return len >= 0 && len <= length && Long.compareUnsigned(addr - iova, length - len) <= 0;
  }

  /** The buffer holding the byte at {@code addr} (which must be inside). */
  public ByteBuffer buffer(long addr) {
    return pieces[(int) ((addr - iova + firstOffset) >>> shift)];
  }

  /** The index of the byte at {@code addr} in {@link #buffer(long)}. */
  public int index(long addr) {
    return (int) ((addr - iova + firstOffset) & mask);
  }

  /** How many bytes from {@code addr} lie contiguously in {@link #buffer(long)} (up to the region's end). */
  public long run(long addr) {
    long toEnd = iova + length - addr;
    return Math.min(toEnd, (1L << shift) - index(addr));
  }

  /** Copies {@code n} bytes at {@code addr} into {@code dst[off..]}. The range must be inside. */
  public void get(long addr, byte[] dst, int off, int n) {
    while (n > 0) {
      int k = (int) Math.min(n, run(addr));
      buffer(addr).get(index(addr), dst, off, k);
      addr += k;
      off += k;
      n -= k;
    }
  }

  /** Copies {@code n} bytes of {@code src[off..]} to {@code addr}. The range must be inside. */
  public void put(long addr, byte[] src, int off, int n) {
    while (n > 0) {
      int k = (int) Math.min(n, run(addr));
      buffer(addr).put(index(addr), src, off, k);
      addr += k;
      off += k;
      n -= k;
    }
  }

  /** Copies {@code n} bytes from {@code src} at {@code srcAddr} to {@code dst} at {@code dstAddr}; both checked. */
  public static void copy(MrMapping src, long srcAddr, MrMapping dst, long dstAddr, long n) {
    while (n > 0) {
      int k = (int) Math.min(n, Math.min(src.run(srcAddr), dst.run(dstAddr)));
      dst.buffer(dstAddr).put(dst.index(dstAddr), src.buffer(srcAddr), src.index(srcAddr), k);
      srcAddr += k;
      dstAddr += k;
      n -= k;
    }
  }
}
