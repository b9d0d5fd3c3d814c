package dev.midlayer.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;

/**
 * What a QP is created with ({@code struct ib_qp_init_attr}). Immutable; build with {@link #builder(QpType)},
 * which names each part (the constructors stay for existing callers).
 *
 * <p>Threading: every method of the record and of its {@link Builder} never blocks. The record may be used
 * from any thread; a builder is not thread-safe: use it from one thread at a time.
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

  /**
   * A builder for a QP of {@code type}. The CQs ({@link Builder#cq} for both queues, or
   * {@link Builder#sendCq} and {@link Builder#recvCq}) and the {@link Builder#cap} must be set. The defaults:
   * {@code signalAll} <b>true</b>, as in {@link #of} (every send WR completes; unlike rdma-core, whose zeroed
   * {@code sq_sig_all} is 0), no event handler, no context, no SRQ. So
   * {@code builder(type).cq(cq).cap(cap).build()} equals {@code of(type, cq, cap)}.
   */
  public static Builder builder(QpType type) {
    return new Builder(type);
  }

  /**
   * Builder for {@link QpInitAttr}. Not thread-safe: one thread at a time; never blocks. {@link #build()}
   * checks that the required parts are there; {@code createQp} checks them against the PD and device.
   */
  public static final class Builder {
    private final QpType type;
    private CompletionQueue sendCq;
    private CompletionQueue recvCq;
    private QpCap cap;
    private boolean signalAll = true;
    private EventHandler eventHandler;
    private Object context;
    private SharedReceiveQueue srq;

    private Builder(QpType type) {
      this.type = type;
    }

    /** Sets {@code sendCq} and {@code recvCq} to {@code v}: one CQ for both queues. */
    public Builder cq(CompletionQueue v) { this.sendCq = v; this.recvCq = v; return this; }
    /** Sets {@code sendCq}: where send completions go (required, or {@link #cq}). */
    public Builder sendCq(CompletionQueue v) { this.sendCq = v; return this; }
    /** Sets {@code recvCq}: where receive completions go (required, or {@link #cq}). */
    public Builder recvCq(CompletionQueue v) { this.recvCq = v; return this; }
    /** Sets {@code cap}: the capabilities asked for (required), e.g. from {@link QpCap#builder()}. */
    public Builder cap(QpCap v) { this.cap = v; return this; }
    /**
     * Sets {@code signalAll} (default true): true, every send WR completes ({@code IB_SIGNAL_ALL_WR}); false,
     * only those with {@link dev.midlayer.ib.SendFlags#SIGNALED}, and errors ({@code IB_SIGNAL_REQ_WR}).
     */
    public Builder signalAll(boolean v) { this.signalAll = v; return this; }
    /** Sets {@code eventHandler}: receives the QP's affiliated events (default none). */
    public Builder eventHandler(EventHandler v) { this.eventHandler = v; return this; }
    /** Sets {@code context}: any object, returned by {@link QueuePair#context()} (default null). */
    public Builder context(Object v) { this.context = v; return this; }
    /** Sets {@code srq}: the shared receive queue the QP takes receives from (default none: its own). */
    public Builder srq(SharedReceiveQueue v) { this.srq = v; return this; }

    /**
     * A {@link QpInitAttr} of the parts set, the others at their defaults.
     *
     * @throws InvalidArgumentException naming the part ({@code type}, {@code sendCq}, {@code recvCq} or
     *     {@code cap}) if a required one is missing
     */
    public QpInitAttr build() {
      InvalidArgumentException.requireNonNull(type, "type");
      if (sendCq == null) {
        throw new InvalidArgumentException("sendCq", "must be set: cq(cq) for both queues, or sendCq(cq)");
      }
      if (recvCq == null) {
        throw new InvalidArgumentException("recvCq", "must be set: cq(cq) for both queues, or recvCq(cq)");
      }
      if (cap == null) {
        throw new InvalidArgumentException("cap", "must be set: cap(QpCap.builder()...build())");
      }
      return new QpInitAttr(type, sendCq, recvCq, cap, signalAll, eventHandler, context, srq);
    }
  }
}
