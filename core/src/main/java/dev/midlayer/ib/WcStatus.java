package dev.midlayer.ib;

/**
 * The status of a work completion ({@code enum ib_wc_status}), in enum order; {@link #value()} is the
 * IB numeric value. On any status but {@link #SUCCESS}, only the WR id, the status, the QP and the
 * vendor error of a completion can be trusted (not its opcode).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum WcStatus {
  /** The operation completed successfully. */
  SUCCESS,
  /** Local length error: the receive buffer is smaller than the message, or a send is too long. */
  LOC_LEN_ERR,
  /** Local QP operation error: malformed WR, opcode not supported, a local operation failed. */
  LOC_QP_OP_ERR,
  /** Local EE context operation error (RD only; unused). */
  LOC_EEC_OP_ERR,
  /** Local protection error: a local SGE's lkey is invalid, of another PD, lacks the access right, or is out of range. */
  LOC_PROT_ERR,
  /** Flushed: the QP is (or went) into the error state. Also for WRs posted while in ERR. */
  WR_FLUSH_ERR,
  /** Memory window bind failed. */
  MW_BIND_ERR,
  /** Unexpected response opcode or sequence. */
  BAD_RESP_ERR,
  /** Local access error at the responder while placing incoming data. */
  LOC_ACCESS_ERR,
  /** The peer rejected the request as invalid (opcode not allowed, length, misaligned atomic, too small buffer). */
  REM_INV_REQ_ERR,
  /** The peer reported a remote access error (bad rkey, PD, rights or range). */
  REM_ACCESS_ERR,
  /** The peer reported a remote operational error. */
  REM_OP_ERR,
  /** Transport retries exhausted: no ACK within {@code retry_cnt} timeouts (peer gone, in ERR, link down). */
  RETRY_EXC_ERR,
  /** RNR retries exhausted: the peer kept having no receive posted. */
  RNR_RETRY_EXC_ERR,
  /** Local RDD violation (RD only). */
  LOC_RDD_VIOL_ERR,
  /** Remote invalid RD request (RD only). */
  REM_INV_RD_REQ_ERR,
  /** The operation was aborted at the responder. */
  REM_ABORT_ERR,
  /** Invalid EE context number (RD only). */
  INV_EECN_ERR,
  /** Invalid EE context state (RD only). */
  INV_EEC_STATE_ERR,
  /** Catastrophic device or driver error. */
  FATAL_ERR,
  /** Response timeout. */
  RESP_TIMEOUT_ERR,
  /** Any other error. */
  GENERAL_ERR;

  /** The IB numeric value (the position in the enum). */
  public int value() {
    return ordinal();
  }
}
