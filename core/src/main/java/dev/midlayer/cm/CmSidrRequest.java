package dev.midlayer.cm;

import dev.midlayer.verbs.QueuePair;

/**
 * The answer handle of a {@link CmEvent.SidrRequest}. Exactly one answer counts. <b>Never blocks</b>; any thread,
 * callbacks included.
 */
public interface CmSidrRequest {
  /**
   * Answers with a SIDR_REP carrying {@code udQp}'s QP number and Q_Key.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException at once for a null QP, a QP that is not UD or not in RTS, or
   *     more than {@link PrivateDataLimits#SIDR_REP} bytes of private data
   * @throws IllegalStateException if the request was answered already
   */
  void accept(QueuePair udQp, byte[] privateData);

  /** Answers with a SIDR_REP of status {@link RejectReason#CONSUMER_REJECT}; limits as {@link #accept}. */
  void reject(byte[] privateData);
}
