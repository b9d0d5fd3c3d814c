package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.spi.MemoryMapping;
import java.nio.ByteBuffer;

/**
 * Internal API: what a memory key resolves to while its region is VALID: the keys, the rights,
 * the protection domain and the translation from I/O virtual addresses to bytes. Immutable: registering,
 * invalidating, remapping or deregistering a region publishes a new mapping (or none), so a driver that
 * resolves a key once ({@link KeyTable#resolve}) works on one consistent snapshot for the whole access,
 * even if another thread invalidates the key meanwhile.
 *
 * <p>The bytes are one buffer ({@link dev.midlayer.verbs.ProtectionDomain#registerMr}) or a list of
 * {@link dev.midlayer.verbs.Page}s (fast
 * registration and FMRs). Byte {@code iova + k} is byte {@code k + firstOffset} of the pages laid end to
 * end, where {@code firstOffset} is the iova's offset in a page. {@link #run} tells how many bytes from an
 * address are contiguous in one buffer, so copies go piece by piece without any intermediate copy.
 */
public final class MrMapping implements MemoryMapping {
  private final MrImpl region;
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

  private MrMapping(MrImpl region, int lkey, int rkey, int access, long iova, long length,
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
  static MrMapping contiguous(MrImpl region, int lkey, int rkey, int access, long iova, ByteBuffer buffer) {
    return new MrMapping(region, lkey, rkey, access, iova, buffer.capacity(), new ByteBuffer[] {buffer}, 62, 0,
        true, 0);
  }

  /** {@code length} bytes of {@code pages} from {@code iova}; the iova's page offset is the offset in the first page. */
  static MrMapping paged(MrImpl region, int key, int access, long iova, long length, PageImpl[] pages, int maps) {
    ByteBuffer[] pieces = new ByteBuffer[pages.length];
    for (int i = 0; i < pages.length; i++) {
      pieces[i] = pages[i].bytes();
    }
    int rkey = AccessFlags.anyRemote(access) ? key : 0;
    return new MrMapping(region, key, rkey, access, iova, length, pieces, PageImpl.SHIFT, iova & (PageImpl.SIZE - 1),
        true, maps);
  }

  /** The same translation under another key, rights and map count (REG_MR of a staged list, an FMR map). */
  MrMapping withKey(int key, int newAccess, int newMaps) {
    int newRkey = AccessFlags.anyRemote(newAccess) ? key : 0;
    return new MrMapping(region, key, newRkey, newAccess, iova, length, pieces, shift, firstOffset, true, newMaps);
  }

  /** No translation: the region is FREE (or unmapped) and {@code key} is its next key. */
  static MrMapping free(MrImpl region, int key, int maps) {
    return new MrMapping(region, key, key, 0, 0, 0, new ByteBuffer[0], 62, 0, false, maps);
  }

  /** The region. */
  public MrImpl region() {
    return region;
  }

  /** The region's protection domain. */
  public PdImpl pd() {
    return region.pd();
  }

  @Override
  public int pdHandle() {
    return region.pd().handle();
  }

  /** The local key. */
  @Override
  public int lkey() {
    return lkey;
  }

  /** The remote key, or 0 if no remote right was granted. */
  @Override
  public int rkey() {
    return rkey;
  }

  /** The {@link AccessFlags} granted. */
  @Override
  public int access() {
    return access;
  }


  /** The first I/O virtual address. */
  @Override
  public long iova() {
    return iova;
  }

  /** Length in bytes. */
  @Override
  public long length() {
    return length;
  }

  /** True while the key works (false for a FREE fast-registration region or an unmapped FMR). */
  @Override
  public boolean isValid() {
    return valid;
  }

  /** True if {@code key} is this mapping's lkey or (non-zero) rkey and the mapping is valid. */
  boolean matches(int key) {
    return valid && (key == lkey || (rkey != 0 && key == rkey));
  }


  /** The buffer holding the byte at {@code addr} (which must be inside). */
  @Override
  public ByteBuffer buffer(long addr) {
    return pieces[(int) ((addr - iova + firstOffset) >>> shift)];
  }

  /** The index of the byte at {@code addr} in {@link #buffer(long)}. */
  @Override
  public int index(long addr) {
    return (int) ((addr - iova + firstOffset) & mask);
  }

  /** How many bytes from {@code addr} lie contiguously in {@link #buffer(long)} (up to the region's end). */
  @Override
  public long run(long addr) {
    long toEnd = iova + length - addr;
    return Math.min(toEnd, (1L << shift) - index(addr));
  }



}
