package dev.midlayer.drivers.engine;

/**
 * 24-bit packet sequence number arithmetic, as IB defines it and rxe computes it ({@code psn_compare}): PSNs
 * wrap at 2^24, and of two PSNs the one less than 2^23 ahead is the later. Pure functions; never block; any
 * thread.
 */
public final class Psn {
  /** The PSN space: 24 bits. */
  public static final int MASK = 0xFFFFFF;

  private Psn() {}

  /** {@code psn + n}, wrapped to 24 bits. */
  public static int add(int psn, int n) {
    return (psn + n) & MASK;
  }

  /** Negative if {@code a} comes before {@code b}, 0 if equal, positive if after (within half the space). */
  public static int compare(int a, int b) {
    return ((a - b) << 8) >> 8;
  }
}
