package dev.midlayer.drivers.engine;

/**
 * The ACK extended transport header's syndrome (IBA 9.3.5, table 43), as one int: bits 7..5 the kind (ACK, RNR
 * NAK, NAK), bits 4..0 the credit count, RNR timer code or NAK code. The MSN of the real AETH is not carried:
 * the engine's PSNs count messages, so the PSN of the ACK says everything the MSN would.
 *
 * <p>Threading: pure functions; every method never blocks and may be called from any thread.
 */
public final class Aeth {
  private Aeth() {}

  private static final int ACK = 0b000 << 5;
  private static final int RNR_NAK = 0b001 << 5;
  private static final int NAK = 0b011 << 5;

  /** NAK codes of IB (table 44). */
  public static final int NAK_PSN_SEQUENCE_ERROR = 0;
  public static final int NAK_INVALID_REQUEST = 1;
  public static final int NAK_REMOTE_ACCESS_ERROR = 2;
  public static final int NAK_REMOTE_OPERATIONAL_ERROR = 3;
  /**
   * Reserved in IB, used by in-JVM links only: the responder, reading or writing the requester's registered
   * memory directly (the loopback driver's zero-copy path), found one of the requester's SGEs invalid. The
   * requester completes the WR with LOC_PROT_ERR, as a NIC would have when it fetched the SGE itself.
   */
  public static final int NAK_REQUESTER_PROTECTION = 0x1F;

  /** A positive acknowledgement. */
  public static int ack() {
    return ACK;
  }

  /** A receiver-not-ready NAK with the responder's minimum RNR timer code (0..31). */
  public static int rnrNak(int timerCode) {
    return RNR_NAK | (timerCode & 31);
  }

  /** A NAK with one of the {@code NAK_*} codes. */
  public static int nak(int code) {
    return NAK | (code & 31);
  }

  /** True for a positive acknowledgement. */
  public static boolean isAck(int aeth) {
    return (aeth & 0xE0) == ACK;
  }

  /** True for a receiver-not-ready NAK. */
  public static boolean isRnrNak(int aeth) {
    return (aeth & 0xE0) == RNR_NAK;
  }

  /** True for a NAK (not an RNR NAK). */
  public static boolean isNak(int aeth) {
    return (aeth & 0xE0) == NAK;
  }

  /** The RNR timer code, or the NAK code. */
  public static int value(int aeth) {
    return aeth & 31;
  }
}
