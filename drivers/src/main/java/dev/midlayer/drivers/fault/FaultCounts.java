package dev.midlayer.drivers.fault;

/**
 * How many packets a link asked a plan about ({@link FaultPlan#apply}), and how many of them it was told to
 * drop, duplicate, delay or reorder. {@code packets} is the sum of the others plus the ones that passed.
 *
 * <p>An immutable snapshot: every method is safe from any thread and never blocks.
 */
public record FaultCounts(long packets, long dropped, long duplicated, long delayed, long reordered) {
  /** No packets. */
  public static final FaultCounts ZERO = new FaultCounts(0, 0, 0, 0, 0);

  /** The packets that went through unchanged. */
  public long passed() {
    return packets - dropped - duplicated - delayed - reordered;
  }

  /** The packets with any fault. */
  public long faulted() {
    return dropped + duplicated + delayed + reordered;
  }

  /** The sum of two counts (e.g. both directions of a link). */
  public FaultCounts plus(FaultCounts o) {
    return new FaultCounts(packets + o.packets, dropped + o.dropped, duplicated + o.duplicated,
        delayed + o.delayed, reordered + o.reordered);
  }
}
