package dev.midlayer.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;

/**
 * What a QP is created with ({@code struct ib_qp_init_attr}).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param type RC, UC or UD
 * @param sendCq where send completions go
 * @param recvCq where receive completions go (may be the same CQ)
 * @param cap the capabilities asked for
 * @param signalAll true: every send WR completes ({@code IB_SIGNAL_ALL_WR}); false: only those with
 *     {@link dev.midlayer.ib.SendFlags#SIGNALED}, and errors ({@code IB_SIGNAL_REQ_WR})
 * @param eventHandler receives the QP's affiliated events (QP_FATAL, COMM_EST, SQ_DRAINED, ...), or null
 * @param context any object, returned by {@link QueuePair#context()}
 * @param srq the shared receive queue the QP takes receives from, or null for its own receive queue (then
 *     {@code cap.maxRecvWr} and {@code cap.maxRecvSge} are not used)
 */
public record QpInitAttr(QpType type, CompletionQueue sendCq, CompletionQueue recvCq, QpCap cap,
    boolean signalAll, EventHandler eventHandler, Object context, SharedReceiveQueue srq) {

  /** A QP with its own receive queue. */
  public QpInitAttr(QpType type, CompletionQueue sendCq, CompletionQueue recvCq, QpCap cap, boolean signalAll,
      EventHandler eventHandler, Object context) {
    this(type, sendCq, recvCq, cap, signalAll, eventHandler, context, null);
  }

  /** This attribute set with {@code srq} as the QP's receive queue. */
  public QpInitAttr withSrq(SharedReceiveQueue newSrq) {
    return new QpInitAttr(type, sendCq, recvCq, cap, signalAll, eventHandler, context, newSrq);
  }

  /** A QP of {@code type} on one CQ for both queues, every WR signaled, no event handler. */
  public static QpInitAttr of(QpType type, CompletionQueue cq, QpCap cap) {
    return new QpInitAttr(type, cq, cq, cap, true, null, null);
  }
}
