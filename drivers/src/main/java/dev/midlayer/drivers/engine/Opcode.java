package dev.midlayer.drivers.engine;

/**
 * The transport opcodes of a {@link Packet}: the BTH opcodes of IB's reliable and unreliable services that the
 * engine sends (IBA 9.2, table 38), one packet per message. A link whose path MTU is smaller than a message
 * segments it on the wire and reassembles it before the receiving engine sees it (see the cluster driver);
 * the engine's PSNs count messages.
 */
public enum Opcode {
  SEND_ONLY,
  SEND_ONLY_WITH_IMMEDIATE,
  SEND_ONLY_WITH_INVALIDATE,
  RDMA_WRITE_ONLY,
  RDMA_WRITE_ONLY_WITH_IMMEDIATE,
  RDMA_READ_REQUEST,
  COMPARE_SWAP,
  FETCH_ADD,
  /** The responder's READ data (with an AETH): the requester's completer writes it into the WR's SGEs. */
  RDMA_READ_RESPONSE_ONLY,
  /** ACK or NAK (the AETH says which). */
  ACKNOWLEDGE,
  /** The original value of an atomic (AtomicAckETH, with an AETH). */
  ATOMIC_ACKNOWLEDGE;

  private static final Opcode[] VALUES = values();

  /** The opcode with {@link #ordinal()} {@code code}; for decoding from the wire. */
  public static Opcode of(int code) {
    if (code < 0 || code >= VALUES.length) {
      throw new IllegalArgumentException("no transport opcode " + code);
    }
    return VALUES[code];
  }

  /** True for the packets a requester sends; false for the responder's answers. */
  public boolean isRequest() {
    return ordinal() <= FETCH_ADD.ordinal();
  }

  /** True for the opcodes that carry a RETH (remote address, rkey, DMA length). */
  public boolean hasReth() {
    return this == RDMA_WRITE_ONLY || this == RDMA_WRITE_ONLY_WITH_IMMEDIATE || this == RDMA_READ_REQUEST;
  }

  /** True for the opcodes that carry an AtomicETH. */
  public boolean isAtomic() {
    return this == COMPARE_SWAP || this == FETCH_ADD;
  }
}
