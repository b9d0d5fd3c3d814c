package dev.midlayer.ib;

import java.util.EnumSet;
import java.util.Set;

/**
 * The operation of a send work request ({@code enum ib_wr_opcode}); {@link #value()} is the IB value.
 * Each opcode knows the QP types it is valid on and the completion opcode it produces.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum WrOpcode {
  RDMA_WRITE(0, WcOpcode.RDMA_WRITE, EnumSet.of(QpType.RC, QpType.UC)),
  RDMA_WRITE_WITH_IMM(1, WcOpcode.RDMA_WRITE, EnumSet.of(QpType.RC, QpType.UC)),
  SEND(2, WcOpcode.SEND, EnumSet.of(QpType.RC, QpType.UC, QpType.UD)),
  SEND_WITH_IMM(3, WcOpcode.SEND, EnumSet.of(QpType.RC, QpType.UC, QpType.UD)),
  RDMA_READ(4, WcOpcode.RDMA_READ, EnumSet.of(QpType.RC)),
  ATOMIC_CMP_AND_SWP(5, WcOpcode.COMP_SWAP, EnumSet.of(QpType.RC)),
  ATOMIC_FETCH_AND_ADD(6, WcOpcode.FETCH_ADD, EnumSet.of(QpType.RC)),
  LOCAL_INV(7, WcOpcode.LOCAL_INV, EnumSet.of(QpType.RC, QpType.UC)),
  SEND_WITH_INV(9, WcOpcode.SEND, EnumSet.of(QpType.RC, QpType.UC)),
  REG_MR(0x20, WcOpcode.REG_MR, EnumSet.of(QpType.RC, QpType.UC));

  private final int value;
  private final WcOpcode completion;
  private final Set<QpType> qpTypes;

  WrOpcode(int value, WcOpcode completion, Set<QpType> qpTypes) {
    this.value = value;
    this.completion = completion;
    this.qpTypes = qpTypes;
  }

  /** The IB numeric value. */
  public int value() {
    return value;
  }

  /** The opcode of the requester's completion. */
  public WcOpcode completion() {
    return completion;
  }

  /** True if this opcode may be posted on a QP of {@code type}. */
  public boolean validOn(QpType type) {
    return qpTypes.contains(type);
  }

  /** True for SEND, SEND_WITH_IMM and SEND_WITH_INV: they consume a receive WR at the responder. */
  public boolean isSend() {
    return this == SEND || this == SEND_WITH_IMM || this == SEND_WITH_INV;
  }

  /** True for opcodes that carry an immediate value. */
  public boolean hasImm() {
    return this == SEND_WITH_IMM || this == RDMA_WRITE_WITH_IMM;
  }

  /** True for the opcodes that may carry inline data (sends and writes). */
  public boolean allowsInline() {
    return isSend() || this == RDMA_WRITE || this == RDMA_WRITE_WITH_IMM;
  }
}
