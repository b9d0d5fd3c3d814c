package dev.midlayer.ib;

/**
 * Queue pair transport type ({@code enum ib_qp_type}); {@link #value()} is the IB value.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum QpType {
  /** Reliable connected: ACKs, retries, RDMA READ and atomics. */
  RC(2),
  /** Unreliable connected: SEND and WRITE only, no ACK; a broken message is dropped silently. */
  UC(3),
  /** Unreliable datagram: SEND only, messages of at most one MTU, an address per WR. */
  UD(4);

  private final int value;

  QpType(int value) {
    this.value = value;
  }

  /** The IB numeric value. */
  public int value() {
    return value;
  }
}
