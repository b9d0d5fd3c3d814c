package dev.midlayer.cli.perftest;

/**
 * Message sizes and per-size iteration counts of the one-sided subcommands ({@code write_bw}, {@code read_bw},
 * {@code atomic_bw}, {@code write_lat}, {@code read_lat}, {@code atomic_lat}), for one size ({@code -s}) or
 * perftest's {@code -a} sweep: 2 B to {@link #MAX_SIZE} in powers of two (atomics: only 8 B).
 *
 * <p>In a sweep a size moves at most a byte budget: its iterations are {@code min(-n, max(floor,
 * budget / size))}, and its warm-up at most as many; so the large sizes take well under a second each.
 */
final class OneSidedSizes {
  /** The largest message of a sweep: the loopback port's maxMsgSize. */
  static final int MAX_SIZE = 8 << 20;
  /** Bytes a bandwidth run moves per size in a sweep (512 MiB: about 0.1 s at 5 GiB/s). */
  static final long BW_BUDGET = 512L << 20;
  /** Fewest messages per size in a bandwidth sweep. */
  static final long BW_FLOOR = 64;
  /** Bytes one side writes or reads per size in a latency sweep (128 MiB). */
  static final long LAT_BUDGET = 128L << 20;
  /** Fewest round trips per size in a latency sweep. */
  static final long LAT_FLOOR = 16;

  /** Help text for {@code -a}. */
  static final String SWEEP_HELP = "Sweep message sizes 2 B .. 8 MiB in powers of two (atomics: 8 B only), "
      + "one result line per size. Iterations (and warm-up) per size are scaled down to fit a byte budget: "
      + "min(-n, max(64, 512 MiB / size)) for bandwidth, min(-n, max(16, 128 MiB / size)) for latency, "
      + "so each size takes well under a second.";

  private OneSidedSizes() {}

  /** The sizes to run: {@code size} alone, or the sweep. */
  static int[] sizes(boolean all, int size, boolean atomic) {
    if (atomic) {
      return new int[] {8};
    }
    if (!all) {
      return new int[] {size};
    }
    int n = Integer.numberOfTrailingZeros(MAX_SIZE);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = 2 << i;
    }
    return out;
  }

  /** Iterations of one size: {@code n} for a single size, scaled to the budget in a sweep. */
  static long iterations(boolean all, long n, int size, long budget, long floor) {
    if (!all) {
      return n;
    }
    return Math.min(n, Math.max(floor, budget / Math.max(1, size)));
  }
}
