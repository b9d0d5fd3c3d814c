package dev.midlayer.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;

/**
 * A work completion ({@code struct ib_wc}). On a status other than {@link WcStatus#SUCCESS} only
 * {@code wrId}, {@code cqe}, {@code status}, {@code qpNum} and {@code vendorErr} are meaningful (the IB
 * rule). Immutable; safe to hand between threads.
 *
 * @param wrId the id of the work request it completes
 * @param cqe the work request's completion callback, or null
 * @param status the outcome
 * @param opcode what completed (valid on success)
 * @param byteLen bytes received (receives) or transferred
 * @param qpNum the local QP's number
 * @param srcQp the sender's QP number (UD receives)
 * @param wcFlags {@link WcFlags} bits
 * @param immData the immediate value (with {@link WcFlags#WITH_IMM}), in network order as posted
 * @param invalidatedRkey the key the sender invalidated (with {@link WcFlags#WITH_INVALIDATE})
 * @param vendorErr a driver-specific error code, 0 if none
 * @param slid the sender's LID (UD receives)
 * @param portNum the port the message arrived on (receives)
 */
public record WorkCompletion(
    long wrId,
    Cqe cqe,
    WcStatus status,
    WcOpcode opcode,
    int byteLen,
    int qpNum,
    int srcQp,
    int wcFlags,
    int immData,
    int invalidatedRkey,
    int vendorErr,
    int slid,
    int portNum) {

  /** True if the status is SUCCESS. */
  public boolean ok() {
    return status == WcStatus.SUCCESS;
  }

  /** A completion with only the fields IB defines for an error: id, status and QP. */
  public static WorkCompletion error(long wrId, Cqe cqe, WcStatus status, WcOpcode opcode, int qpNum, int vendorErr) {
    return new WorkCompletion(wrId, cqe, status, opcode, 0, qpNum, 0, 0, 0, 0, vendorErr, 0, 0);
  }
}
