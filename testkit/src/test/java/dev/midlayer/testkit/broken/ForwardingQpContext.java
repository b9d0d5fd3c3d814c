package dev.midlayer.testkit.broken;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;

/** A {@link QpContext} that forwards everything to the midlayer's: a broken driver overrides what it breaks. */
class ForwardingQpContext implements QpContext {
  final QpContext qp;

  ForwardingQpContext(QpContext qp) {
    this.qp = qp;
  }

  @Override public int qpNum() { return qp.qpNum(); }
  @Override public QpType type() { return qp.type(); }
  @Override public int pdHandle() { return qp.pdHandle(); }
  @Override public DriverDevice device() { return qp.device(); }
  @Override public DriverQp driver() { return qp.driver(); }
  @Override public QpState state() { return qp.state(); }
  @Override public QpAttr attributes() { return qp.attributes(); }
  @Override public boolean signaled(SendWqe wqe) { return qp.signaled(wqe); }
  @Override public WorkQueue<SendWqe> sendQueue() { return qp.sendQueue(); }
  @Override public WorkQueue<RecvWqe> recvQueue() { return qp.recvQueue(); }
  @Override public boolean hasSrq() { return qp.hasSrq(); }
  @Override public RecvWqe takeRecv() { return qp.takeRecv(); }
  @Override public boolean completeSend(SendWqe wqe, WcStatus status) { return qp.completeSend(wqe, status); }
  @Override public void finishUnsignaled(int count) { qp.finishUnsignaled(count); }

  @Override
  public boolean completeRecv(RecvWqe wqe, WcOpcode opcode, int byteLen, int srcQp, int slid, int wcFlags,
      int immData, int invalidatedRkey, boolean solicited) {
    return qp.completeRecv(wqe, opcode, byteLen, srcQp, slid, wcFlags, immData, invalidatedRkey, solicited);
  }

  @Override public boolean completeRecvError(RecvWqe wqe, WcStatus status) { return qp.completeRecvError(wqe, status); }
  @Override public MemoryOpResult executeLocal(SendWqe wqe) { return qp.executeLocal(wqe); }
  @Override public void reset() { qp.reset(); }
  @Override public boolean moveToError() { return qp.moveToError(); }
  @Override public boolean moveToSqError() { return qp.moveToSqError(); }
  @Override public void raiseEvent(AsyncEventType type) { qp.raiseEvent(type); }
}
