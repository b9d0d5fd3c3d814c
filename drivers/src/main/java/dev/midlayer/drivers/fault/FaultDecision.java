package dev.midlayer.drivers.fault;

/**
 * What a link does with one outgoing packet. {@link FaultPlan#decide} returns one; the link applies it.
 * Decisions carry no state and are immutable; the singletons {@link #PASS}, {@link #DROP} and
 * {@link #DUPLICATE} are shared, so deciding PASS allocates nothing. Every method is safe from any thread and
 * never blocks.
 */
public sealed interface FaultDecision {
  /** The packet goes as it would without a plan. */
  FaultDecision PASS = new Pass();
  /** The packet is lost. */
  FaultDecision DROP = new Drop();
  /** The packet arrives twice, back to back. */
  FaultDecision DUPLICATE = new Duplicate();

  /** True for {@link Pass}. */
  default boolean passes() {
    return false;
  }

  /** Deliver unchanged. */
  record Pass() implements FaultDecision {
    @Override
    public boolean passes() {
      return true;
    }
  }

  /** Lose the packet. */
  record Drop() implements FaultDecision {}

  /** Deliver the packet twice. */
  record Duplicate() implements FaultDecision {}

  /**
   * Deliver the packet {@code nanos} later (in real IB time: a driver scales it by the factor it scales its
   * transport timers with, as the loopback driver does with {@code midlayer.loopback.timer-scale}). Packets sent
   * after it may overtake it.
   */
  record Delay(long nanos) implements FaultDecision {
    /** Checks {@code nanos} is not negative. */
    public Delay {
      if (nanos < 0) {
        throw new IllegalArgumentException("nanos must be >= 0, was " + nanos);
      }
    }
  }

  /**
   * Hold the packet back and release it right after the next packet the same sender puts on the link, so that
   * one overtakes it; if no packet follows within {@code maxHoldNanos} (real IB time, scaled like
   * {@link Delay}), it is released then.
   */
  record Reorder(long maxHoldNanos) implements FaultDecision {
    /** Checks {@code maxHoldNanos} is not negative. */
    public Reorder {
      if (maxHoldNanos < 0) {
        throw new IllegalArgumentException("maxHoldNanos must be >= 0, was " + maxHoldNanos);
      }
    }
  }
}
