package dev.midlayer.drivers.engine;

import dev.midlayer.ib.WrOpcode;

/**
 * The transport opcodes of a {@link Packet}: the BTH opcodes of IB's reliable and unreliable services that the
 * engine sends (IBA 9.2, table 38), one packet per message. A link whose path MTU is smaller than a message
 * segments it on the wire and reassembles it before the receiving engine sees it (see the cluster driver);
 * the engine's PSNs count messages.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
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

  /** The request opcode that carries a work request of {@code op} (not REG_MR or LOCAL_INV: they stay local). */
  public static Opcode forRequest(WrOpcode op) {
    return switch (op) {
      case SEND -> SEND_ONLY;
      case SEND_WITH_IMM -> SEND_ONLY_WITH_IMMEDIATE;
      case SEND_WITH_INV -> SEND_ONLY_WITH_INVALIDATE;
      case RDMA_WRITE -> RDMA_WRITE_ONLY;
      case RDMA_WRITE_WITH_IMM -> RDMA_WRITE_ONLY_WITH_IMMEDIATE;
      case RDMA_READ -> RDMA_READ_REQUEST;
      case ATOMIC_CMP_AND_SWP -> COMPARE_SWAP;
      case ATOMIC_FETCH_AND_ADD -> FETCH_ADD;
      case LOCAL_INV, REG_MR -> throw new IllegalArgumentException(op + " is executed locally, never sent");
    };
  }

  /** The work request opcode a request stands for (what the responder's completion reports). */
  public WrOpcode wrOpcode() {
    return switch (this) {
      case SEND_ONLY -> WrOpcode.SEND;
      case SEND_ONLY_WITH_IMMEDIATE -> WrOpcode.SEND_WITH_IMM;
      case SEND_ONLY_WITH_INVALIDATE -> WrOpcode.SEND_WITH_INV;
      case RDMA_WRITE_ONLY -> WrOpcode.RDMA_WRITE;
      case RDMA_WRITE_ONLY_WITH_IMMEDIATE -> WrOpcode.RDMA_WRITE_WITH_IMM;
      case RDMA_READ_REQUEST -> WrOpcode.RDMA_READ;
      case COMPARE_SWAP -> WrOpcode.ATOMIC_CMP_AND_SWP;
      case FETCH_ADD -> WrOpcode.ATOMIC_FETCH_AND_ADD;
      default -> throw new IllegalStateException(this + " is not a request");
    };
  }

  /** True for SENDs (they consume a receive WQE). */
  public boolean isSend() {
    return this == SEND_ONLY || this == SEND_ONLY_WITH_IMMEDIATE || this == SEND_ONLY_WITH_INVALIDATE;
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
