package dev.midlayer.cm;

import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletionStage;

/**
 * The answer handle of a {@link CmEvent.ConnectRequest}. Exactly one answer counts. Every method
 * <b>never blocks</b> and may be called from any thread, CM callbacks and other midlayer callbacks included.
 */
public interface CmRequest {
  /**
   * Accepts with {@code qp} and REP private data, the connection's events going to the listener's sink. The CM
   * moves the QP (RESET or INIT, RC or UC, on the listener's device) to INIT, RTR and RTS and then sends REP
   * (as Linux's {@code rdma_accept} does): receives may be posted once the QP is in INIT, and the ones posted
   * before the REP went out are in place for the active side's first send, which may arrive before the RTU and
   * may be answered at once.
   *
   * @return a stage that completes with the connection when RTU arrived (ESTABLISHED), or fails with
   *     {@link ConnectionRejectedException} (the active side gave up: TIMEOUT, or the request was stale)
   * @throws dev.midlayer.ib.InvalidArgumentException at once for a null QP, a QP of another device, of type UD,
   *     not in RESET or INIT, or more than {@link PrivateDataLimits#REP} bytes of private data
   * @throws IllegalStateException if the request was answered already
   */
  CompletionStage<CmConnection> accept(QueuePair qp, byte[] privateData);

  /** As {@link #accept(QueuePair, byte[])} with the connection's events going to {@code events}. */
  CompletionStage<CmConnection> accept(QueuePair qp, byte[] privateData, CmEventSink events);

  /**
   * Rejects with {@link RejectReason#CONSUMER_REJECT} and REJ private data.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException at once for more than {@link PrivateDataLimits#REJ} bytes
   * @throws IllegalStateException if the request was answered already
   */
  void reject(byte[] privateData);
}
