package dev.midlayer.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import java.util.Objects;

/**
 * A work completion ({@code struct ib_wc}). On a status other than {@link WcStatus#SUCCESS} only
 * {@code wrId}, {@code cqe}, {@code status}, {@code qpNum} and {@code vendorErr} are meaningful (the IB
 * rule). Immutable, with the accessors and the value equality of a record; safe to hand between threads.
 *
 * <p>Threading: every method never blocks and may be called from any thread.
 *
 * <p>The completions a CQ hands out are of a midlayer subclass that also frees the work request's slot in
 * its queue when the completion is polled (so a queue's depth bounds the completions waiting for it).
 */
public class WorkCompletion {
  private final long wrId;
  private final Cqe cqe;
  private final WcStatus status;
  private final WcOpcode opcode;
  private final int byteLen;
  private final int qpNum;
  private final int srcQp;
  private final int wcFlags;
  private final int immData;
  private final int invalidatedRkey;
  private final int vendorErr;
  private final int slid;
  private final int portNum;

  /**
   * @param wrId the id of the work request it completes
   * @param cqe the work request's completion callback, or null
   * @param status the outcome
   * @param opcode what completed (valid on success)
   * @param byteLen bytes received (receives; on a UD QP including the 40-byte GRH area at the start of the
   *     buffer, filled or not, as IBA 11.4.2.1 and libibverbs count it) or transferred
   * @param qpNum the local QP's number
   * @param srcQp the sender's QP number (UD receives)
   * @param wcFlags {@link WcFlags} bits
   * @param immData the immediate value (with {@link WcFlags#WITH_IMM}), in network order as posted
   * @param invalidatedRkey the key the sender invalidated (with {@link WcFlags#WITH_INVALIDATE})
   * @param vendorErr a driver-specific error code, 0 if none
   * @param slid the sender's LID (UD receives)
   * @param portNum the port the message arrived on (receives)
   */
  public WorkCompletion(long wrId, Cqe cqe, WcStatus status, WcOpcode opcode, int byteLen, int qpNum, int srcQp,
      int wcFlags, int immData, int invalidatedRkey, int vendorErr, int slid, int portNum) {
    this.wrId = wrId;
    this.cqe = cqe;
    this.status = status;
    this.opcode = opcode;
    this.byteLen = byteLen;
    this.qpNum = qpNum;
    this.srcQp = srcQp;
    this.wcFlags = wcFlags;
    this.immData = immData;
    this.invalidatedRkey = invalidatedRkey;
    this.vendorErr = vendorErr;
    this.slid = slid;
    this.portNum = portNum;
  }

  /** A completion with only the fields IB defines for an error: id, status and QP. */
  public static WorkCompletion error(long wrId, Cqe cqe, WcStatus status, WcOpcode opcode, int qpNum, int vendorErr) {
    return new WorkCompletion(wrId, cqe, status, opcode, 0, qpNum, 0, 0, 0, 0, vendorErr, 0, 0);
  }

  /** True if the status is SUCCESS. */
  public boolean ok() {
    return status == WcStatus.SUCCESS;
  }

  /** The id of the work request it completes. */
  public long wrId() {
    return wrId;
  }

  /** The work request's completion callback, or null. */
  public Cqe cqe() {
    return cqe;
  }

  /** The outcome. */
  public WcStatus status() {
    return status;
  }

  /** What completed (valid on success). */
  public WcOpcode opcode() {
    return opcode;
  }

  /** Bytes received (receives) or transferred. */
  public int byteLen() {
    return byteLen;
  }

  /** The local QP's number. */
  public int qpNum() {
    return qpNum;
  }

  /** The sender's QP number (UD receives). */
  public int srcQp() {
    return srcQp;
  }

  /** {@link WcFlags} bits. */
  public int wcFlags() {
    return wcFlags;
  }

  /** The immediate value (with {@link WcFlags#WITH_IMM}). */
  public int immData() {
    return immData;
  }

  /** The key the sender invalidated (with {@link WcFlags#WITH_INVALIDATE}). */
  public int invalidatedRkey() {
    return invalidatedRkey;
  }

  /** A driver-specific error code, 0 if none. */
  public int vendorErr() {
    return vendorErr;
  }

  /** The sender's LID (UD receives). */
  public int slid() {
    return slid;
  }

  /** The port the message arrived on (receives). */
  public int portNum() {
    return portNum;
  }

  @Override
  public final boolean equals(Object o) {
    return o instanceof WorkCompletion w && wrId == w.wrId && cqe == w.cqe && status == w.status
        && opcode == w.opcode && byteLen == w.byteLen && qpNum == w.qpNum && srcQp == w.srcQp
        && wcFlags == w.wcFlags && immData == w.immData && invalidatedRkey == w.invalidatedRkey
        && vendorErr == w.vendorErr && slid == w.slid && portNum == w.portNum;
  }

  @Override
  public final int hashCode() {
    return Objects.hash(wrId, status, opcode, byteLen, qpNum, srcQp, wcFlags, immData, invalidatedRkey, vendorErr,
        slid, portNum);
  }

  @Override
  public String toString() {
    return "WorkCompletion[wrId=" + wrId + ", status=" + status + ", opcode=" + opcode + ", byteLen=" + byteLen
        + ", qpNum=" + qpNum + ", srcQp=" + srcQp + ", wcFlags=" + wcFlags + ", immData=" + immData
        + ", invalidatedRkey=" + invalidatedRkey + ", vendorErr=" + vendorErr + ", slid=" + slid
        + ", portNum=" + portNum + "]";
  }
}
