package dev.midlayer.verbs;

/**
 * A scatter/gather element ({@code struct ib_sge}): {@code length} bytes at address {@code addr} of the
 * memory region whose local key is {@code lkey}. Addresses are the region's I/O virtual addresses
 * ({@link MemoryRegion#iova()} plus an offset). Immutable; safe to reuse across posts.
 *
 * <p>Threading: every method never blocks and may be called from any thread.
 */
public record Sge(long addr, int length, int lkey) {
  /** The element covering all of {@code mr}. */
  public static Sge of(MemoryRegion mr) {
    return new Sge(mr.iova(), (int) Math.min(Integer.MAX_VALUE, mr.length()), mr.lkey());
  }

  /** The element covering {@code length} bytes of {@code mr} from {@code offset}. */
  public static Sge of(MemoryRegion mr, long offset, int length) {
    return new Sge(mr.iova() + offset, length, mr.lkey());
  }
}
