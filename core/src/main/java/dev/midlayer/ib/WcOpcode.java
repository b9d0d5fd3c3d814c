package dev.midlayer.ib;

/**
 * The operation a successful work completion reports ({@code enum ib_wc_opcode}). Receive-side opcodes
 * have bit {@code 0x80} set ({@link #isRecv()}). Valid only when the status is SUCCESS.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum WcOpcode {
  SEND(0),
  RDMA_WRITE(1),
  RDMA_READ(2),
  COMP_SWAP(3),
  FETCH_ADD(4),
  BIND_MW(5),
  LOCAL_INV(6),
  REG_MR(10),
  RECV(0x80),
  RECV_RDMA_WITH_IMM(0x81);

  private final int value;

  WcOpcode(int value) {
    this.value = value;
  }

  /** The IB numeric value. */
  public int value() {
    return value;
  }

  /** True for completions of receive work requests. */
  public boolean isRecv() {
    return (value & 0x80) != 0;
  }
}
