package dev.midlayer.spi;

import java.nio.ByteBuffer;

/**
 * What a memory key resolves to while its region is VALID: the keys, the rights, the protection domain
 * and the translation from I/O virtual addresses to bytes. Immutable: registering, invalidating,
 * remapping or deregistering a region publishes a new mapping (or none), so a driver that resolves a key
 * once ({@link MemoryKeys#resolve}) works on one consistent snapshot for the whole access.
 *
 * <p>The bytes are one buffer or a list of 4 KiB pages; {@link #run} tells how many bytes from an address
 * are contiguous in one buffer, so copies go piece by piece with bulk {@code ByteBuffer} operations and no
 * intermediate copy.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread (the copies only move
 * bytes between buffers).
 */
public interface MemoryMapping {
  /** The local key. */
  int lkey();

  /** The remote key, or 0 if no remote right was granted. */
  int rkey();

  /** The {@link dev.midlayer.ib.AccessFlags} granted. */
  int access();

  /** True if every bit of {@code rights} ({@link dev.midlayer.ib.AccessFlags}) was granted. */
  default boolean allows(int rights) {
    return (access() & rights) == rights;
  }

  /** The protection domain of the region (its handle on the device, as {@link QpContext#pdHandle()}). */
  int pdHandle();

  /** The first I/O virtual address. */
  long iova();

  /** Length in bytes. */
  long length();

  /** True while the key works. */
  boolean isValid();

  /**
   * True if {@code [addr, addr + len)} lies inside the region. Addresses are unsigned 64-bit, as in IB; a
   * region never wraps past 2^64.
   */
  default boolean contains(long addr, long len) {
    return len >= 0 && len <= length() && Long.compareUnsigned(addr - iova(), length() - len) <= 0;
  }

  /** The buffer holding the byte at {@code addr} (which must be inside). Share it: use absolute get/put only. */
  ByteBuffer buffer(long addr);

  /** The index of the byte at {@code addr} in {@link #buffer(long)}. */
  int index(long addr);

  /** How many bytes from {@code addr} lie contiguously in {@link #buffer(long)} (up to the region's end). */
  long run(long addr);

  /** Copies {@code n} bytes at {@code addr} into {@code dst[off..]}. The range must be inside. */
  default void get(long addr, byte[] dst, int off, int n) {
    while (n > 0) {
      int k = (int) Math.min(n, run(addr));
      buffer(addr).get(index(addr), dst, off, k);
      addr += k;
      off += k;
      n -= k;
    }
  }

  /** Copies {@code n} bytes of {@code src[off..]} to {@code addr}. The range must be inside. */
  default void put(long addr, byte[] src, int off, int n) {
    while (n > 0) {
      int k = (int) Math.min(n, run(addr));
      buffer(addr).put(index(addr), src, off, k);
      addr += k;
      off += k;
      n -= k;
    }
  }

  /** Copies {@code n} bytes from {@code src} at {@code srcAddr} to {@code dst} at {@code dstAddr}; both must be inside. */
  static void copy(MemoryMapping src, long srcAddr, MemoryMapping dst, long dstAddr, long n) {
    while (n > 0) {
      int k = (int) Math.min(n, Math.min(src.run(srcAddr), dst.run(dstAddr)));
      dst.buffer(dstAddr).put(dst.index(dstAddr), src.buffer(srcAddr), src.index(srcAddr), k);
      srcAddr += k;
      dstAddr += k;
      n -= k;
    }
  }
}
