package dev.midlayer.cm;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;

/**
 * The transport parameters of a connection that REQ proposes and REP settles (IBTA vol. 1, §12.7.x; Linux
 * {@code struct ib_cm_req_param} / {@code ib_cm_rep_param}). In a {@link CmEvent.ConnectRequest} they are what
 * the active side proposed; on an established {@link CmConnection} what the two sides agreed.
 * Immutable; never blocks; any thread.
 *
 * @param startPsn the first PSN the side that proposed them sends, 24 bits
 * @param pathMtu the path MTU
 * @param responderResources incoming RDMA READs and atomics the sender accepts at once (its MAX_DEST_RD_ATOMIC)
 * @param initiatorDepth RDMA READs and atomics the sender issues at once (its MAX_QP_RD_ATOMIC)
 * @param rnrRetryCount how often the peer retries a send its responder NAKed for want of a receive, 0..7
 *     (7: forever)
 * @param retryCount transport retries, 0..7
 * @param localAckTimeout ACK timeout code, 0..31 (4.096 µs × 2^code)
 */
public record CmParams(int startPsn, Mtu pathMtu, int responderResources, int initiatorDepth, int rnrRetryCount,
    int retryCount, int localAckTimeout) {

  /** Checks the ranges; a bad value throws {@link InvalidArgumentException} at once. */
  public CmParams {
    InvalidArgumentException.requireNonNull(pathMtu, "pathMtu");
    range("startPsn", startPsn, 0, 0xff_ffff);
    range("responderResources", responderResources, 0, 255);
    range("initiatorDepth", initiatorDepth, 0, 255);
    range("rnrRetryCount", rnrRetryCount, 0, 7);
    range("retryCount", retryCount, 0, 7);
    range("localAckTimeout", localAckTimeout, 0, 31);
  }

  private static void range(String field, int v, int min, int max) {
    if (v < min || v > max) {
      throw new InvalidArgumentException(field, "must be " + min + ".." + max + ", was " + v);
    }
  }
}
