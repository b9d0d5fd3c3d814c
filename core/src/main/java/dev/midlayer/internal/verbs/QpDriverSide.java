package dev.midlayer.internal.verbs;

import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;
import dev.midlayer.verbs.SendWr;

/**
 * Internal API. What the driver sees of a QP ({@link QpContext}): its queues, state and attributes, and the
 * completions it produces, which this class turns into {@link dev.midlayer.verbs.WorkCompletion}s in the QP's CQs. A thin
 * handle over its {@link QpImpl}, so that a driver never holds the consumer's object.
 */
public final class QpDriverSide implements QpContext {
  private final QpImpl qp;

  QpDriverSide(QpImpl qp) {
    this.qp = qp;
  }

  /** The consumer's handle of the same QP. */
  public QpImpl qp() {
    return qp;
  }

  @Override
  public int qpNum() {
    return qp.qpNum;
  }

  @Override
  public QpType type() {
    return qp.type;
  }

  @Override
  public int pdHandle() {
    return qp.pd.handle();
  }

  @Override
  public DriverDevice device() {
    return qp.device().driverView();
  }

  @Override
  public DriverQp driver() {
    return qp.driver;
  }

  @Override
  public QpState state() {
    return qp.state.get();
  }

  @Override
  public QpAttr attributes() {
    return qp.attr;
  }

  @Override
  public boolean signaled(SendWqe wqe) {
    return qp.signalAll || wqe.has(SendFlags.SIGNALED);
  }

  @Override
  public WorkQueue<SendWqe> sendQueue() {
    return qp.sq;
  }

  @Override
  public WorkQueue<RecvWqe> recvQueue() {
    return qp.rq;
  }

  @Override
  public boolean hasSrq() {
    return qp.srq != null;
  }

  @Override
  public RecvWqe takeRecv() {
    return qp.srq != null ? qp.srq.take() : qp.rq.take();
  }

  @Override
  public boolean completeSend(SendWqe wqe, WcStatus status) {
    PostedSend ps = (PostedSend) wqe;
    ContractMonitor m = qp.device().monitor();
    if (m != null) {
      m.completionProduced(qp, "a " + status + " completion of send wr_id " + ps.wrId());
      m.ledger().completed(qp.sq, "send queue of " + qp, qp.owner(), ps, status);
    }
    WcOpcode opcode = ps.opcode().completion();
    // The slot stays taken until the completion is polled: the send queue's depth bounds what waits in the CQ.
    QueuedCompletion wc = status == WcStatus.SUCCESS
        ? new QueuedCompletion(ps.wrId(), ps.cqe(), WcStatus.SUCCESS, opcode, (int) ps.length(), qp.qpNum, 0, 0, 0,
            0, 0, 0, qp.sq, qp.sq.epoch())
        : QueuedCompletion.error(ps.wrId(), ps.cqe(), status, opcode, qp.qpNum, qp.sq, qp.sq.epoch());
    return push(qp, qp.sendCq, wc, false);
  }

  /** Adds the completion; one the CQ refused (it overflowed or is destroyed) frees its slot at once. */
  private static boolean push(QpImpl qp, dev.midlayer.internal.cq.CqImpl cq, QueuedCompletion wc,
      boolean solicited) {
    if (cq.push(wc, solicited, qp)) {
      return true;
    }
    wc.release();
    if (wc.cqe() instanceof DrainMarker marker) {
      // A drain waits for exactly this completion: it fails now rather than never.
      marker.fail(new dev.midlayer.cq.CqOverflowException(marker.verb + ": " + cq + " refused the marker's "
          + "completion (it overflowed or was destroyed), so the drain cannot be confirmed"));
    }
    return false;
  }

  @Override
  public void finishUnsignaled(int count) {
    if (count < 0) {
      throw new IllegalArgumentException("finishUnsignaled: count " + count + " < 0");
    }
    ContractMonitor m = qp.device().monitor();
    if (m != null) {
      m.ledger().finishedUnsignaled(qp.sq, count);
    }
    qp.sq.finished(count);
  }

  @Override
  public boolean completeRecv(RecvWqe wqe, WcOpcode opcode, int byteLen, int srcQp, int slid, int wcFlags,
      int immData, int invalidatedRkey, boolean solicited) {
    PostedRecv pr = (PostedRecv) wqe;
    SlotOwner owner = recvSlots();
    recvCompleted(pr, WcStatus.SUCCESS);
    QueuedCompletion wc = new QueuedCompletion(pr.wrId(), pr.cqe(), WcStatus.SUCCESS, opcode, byteLen, qp.qpNum,
        srcQp, wcFlags, immData, invalidatedRkey, slid, qp.attr.portNum(), owner, recvEpoch());
    return push(qp, qp.recvCq, wc, solicited);
  }

  @Override
  public boolean completeRecvError(RecvWqe wqe, WcStatus status) {
    PostedRecv pr = (PostedRecv) wqe;
    recvCompleted(pr, status);
    return push(qp, qp.recvCq, QueuedCompletion.error(pr.wrId(), pr.cqe(), status, WcOpcode.RECV, qp.qpNum,
        recvSlots(), recvEpoch()), true);
  }

  /** Tells the monitor, if any, that the driver completed {@code pr} (check 1 and the ledger). */
  private void recvCompleted(PostedRecv pr, WcStatus status) {
    ContractMonitor m = qp.device().monitor();
    if (m != null) {
      m.completionProduced(qp, "a " + status + " completion of receive wr_id " + pr.wrId());
      Object queue = qp.srq != null ? qp.srq : qp.rq;
      m.ledger().completed(queue, qp.srq != null ? qp.srq.describe() + " on " + qp.device().name()
          : "receive queue of " + qp, qp.owner(), pr, status);
    }
  }

  /** Where a receive's slot is: the SRQ it came from, or the QP's own receive queue. */
  private SlotOwner recvSlots() {
    return qp.srq != null ? qp.srq : qp.rq;
  }

  private int recvEpoch() {
    return qp.srq != null ? 0 : qp.rq.epoch();
  }

  @Override
  public MemoryOpResult executeLocal(SendWqe wqe) {
    PostedSend ps = (PostedSend) wqe;
    SendWr wr = ps.wr();
    if (wr.opcode() == WrOpcode.REG_MR) {
      if (!(wr.regMr() instanceof FastRegMr fr)) {
        return MemoryOpResult.refused(MemoryOpResult.Refusal.NOT_FAST_REG,
            ((MrImpl) wr.regMr()).describe() + " is not a fast-registration region (allocMr)");
      }
      return fr.fastRegister(ps.staged(), wr.regKey(), wr.regAccess(), qp.pd.handle());
    }
    return qp.device().verbs().keys().invalidate(wr.invalidateRkey(), qp.pd.handle());
  }

  @Override
  public void reset() {
    ContractMonitor m = qp.device().monitor();
    if (m != null) {
      m.ledger().reset(qp.sq);
      m.ledger().reset(qp.rq);
    }
    qp.sq.reset();
    qp.rq.reset();
  }

  @Override
  public boolean moveToError() {
    return qp.moveToError();
  }

  @Override
  public boolean moveToSqError() {
    if (qp.state.compareAndSet(QpState.RTS, QpState.SQE)) {
      dev.midlayer.internal.jfr.MidlayerEvents.qpStateChange(qp.device().name(), qp.qpNum(), QpState.RTS,
          QpState.SQE);
      return true;
    }
    return false;
  }

  @Override
  public void raiseEvent(AsyncEventType type) {
    if (qp.eventHandler == null) {
      return;
    }
    // Never on the driver's thread: the device's event actor calls the handler, on the callback dispatcher,
    // unless the QP was destroyed by then.
    AsyncEvent event = new AsyncEvent(qp.device(), type, new EventElement.OfQp(qp.qpNum));
    qp.device().raise(event, qp.eventHandler, qp.eventCallbackName, qp.owner(), qp::alive);
  }

  @Override
  public String toString() {
    return "driver view of " + qp;
  }
}
