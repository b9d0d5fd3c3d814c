package dev.midlayer.spi;

/**
 * The scatter/gather list of a work request ({@code struct ib_sge} array): element {@code i} is
 * {@link #sgeLength(int)} bytes at I/O virtual address {@link #sgeAddr(int)} of the region whose local key is
 * {@link #sgeLkey(int)}. Indexed accessors, so a driver walks it without allocating.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public interface SgList {
  /** Number of elements. */
  int sgeCount();

  /** The I/O virtual address of element {@code i}. */
  long sgeAddr(int i);

  /** The length in bytes of element {@code i}. */
  int sgeLength(int i);

  /** The local key of element {@code i}. */
  int sgeLkey(int i);
}
