package dev.midlayer.ib;

/**
 * Queue pair state ({@code enum ib_qp_state}); {@link #value()} is the IB value.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum QpState {
  RESET,
  INIT,
  /** Ready to receive. */
  RTR,
  /** Ready to send. */
  RTS,
  /** Send queue drain: no new send WRs are started. */
  SQD,
  /** Send queue error (UC and UD only): the receive side keeps working. */
  SQE,
  ERR;

  /** The IB numeric value. */
  public int value() {
    return ordinal();
  }
}
