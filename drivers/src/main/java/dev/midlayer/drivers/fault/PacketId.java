package dev.midlayer.drivers.fault;

/**
 * What identifies a packet for a fault decision: the sending and the receiving QP numbers, the PSN (24 bits)
 * and the kind. A retransmission has the same identity as the original; only the attempt number of
 * {@link FaultPlan#decide} tells them apart. For an ACK or NAK the source QP is the responder's, the PSN the one
 * acknowledged.
 *
 * <p>An immutable value: every method is safe from any thread and never blocks.
 */
public record PacketId(int srcQpn, int dstQpn, int psn, PacketKind kind) {
  /** Checks {@code kind} is given. */
  public PacketId {
    if (kind == null) {
      throw new NullPointerException("kind");
    }
  }
}
