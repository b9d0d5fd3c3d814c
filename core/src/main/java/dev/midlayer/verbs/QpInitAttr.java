package dev.midlayer.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.EventHandler;

/**
 * What a QP is created with ({@code struct ib_qp_init_attr}). Immutable.
 *
 * @param type RC, UC or UD
 * @param sendCq where send completions go
 * @param recvCq where receive completions go (may be the same CQ)
 * @param cap the capabilities asked for
 * @param signalAll true: every send WR completes ({@code IB_SIGNAL_ALL_WR}); false: only those with
 *     {@link SendFlags#SIGNALED}, and errors ({@code IB_SIGNAL_REQ_WR})
 * @param eventHandler receives the QP's affiliated events (QP_FATAL, COMM_EST, SQ_DRAINED, ...), or null
 * @param context any object, returned by {@link QueuePair#context()}
 */
public record QpInitAttr(QpType type, CompletionQueue sendCq, CompletionQueue recvCq, QpCap cap,
    boolean signalAll, EventHandler eventHandler, Object context) {

  /** A QP of {@code type} on one CQ for both queues, every WR signaled, no event handler. */
  public static QpInitAttr of(QpType type, CompletionQueue cq, QpCap cap) {
    return new QpInitAttr(type, cq, cq, cap, true, null, null);
  }
}
