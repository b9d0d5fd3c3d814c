package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;

/**
 * Writes the QP's completions into its CQs (rxe's {@code do_complete} and the flush of {@code rxe_comp.c}):
 * successes, errors, flushes, and a CQ overflow, which is a fatal error of the QP (QP_FATAL, then ERR). It keeps
 * the count of unsignaled WRs that succeeded and gives their slots back in one update per batch, or before the
 * next completion of the send queue, as a NIC's completion retires the run of WQEs before it: one atomic per
 * WR would bounce the send queue's counter between the poster's core and this one for every message.
 *
 * <p>Threading: the QP's engine actor only.
 */
final class CompletionWriter {
  private final QpEngine engine;
  private final QpContext qp;
  private int unsignaledDone;

  CompletionWriter(QpEngine engine, QpContext qp) {
    this.engine = engine;
    this.qp = qp;
  }

  /**
   * A send WR that succeeded: a completion if it is signaled, else just its slot. Returns false if the
   * completion did not fit (its CQ overflowed): the QP failed and was flushed.
   */
  boolean sendSucceeded(SendWqe wqe) {
    if (!qp.signaled(wqe)) {
      unsignaledDone++;
      return true;
    }
    finishUnsignaled();
    if (qp.completeSend(wqe, WcStatus.SUCCESS)) {
      return true;
    }
    cqOverflowed(true);
    return false;
  }

  /** A send WR ends with an error completion (signaled or not). */
  void sendFailed(SendWqe wqe, WcStatus status) {
    engine.counters().countError(status == WcStatus.WR_FLUSH_ERR);
    if (status != WcStatus.WR_FLUSH_ERR) {
      engine.noteErrorCause(status + " on send wr_id " + wqe.wrId() + " (" + wqe.opcode() + ")");
    }
    finishUnsignaled();
    if (!qp.completeSend(wqe, status)) {
      cqOverflowed(false);
    }
  }

  /** A send WR is flushed: WR_FLUSH_ERR. */
  void sendFlushed(SendWqe wqe) {
    sendFailed(wqe, WcStatus.WR_FLUSH_ERR);
  }

  /** Gives back the slots of the unsignaled WRs finished since the last call (one atomic update). */
  void finishUnsignaled() {
    if (unsignaledDone > 0) {
      qp.finishUnsignaled(unsignaledDone);
      unsignaledDone = 0;
    }
  }

  /** A RESET freed every slot: the count is void. */
  void reset() {
    unsignaledDone = 0;
  }

  /**
   * A successful receive of the message {@code wr} stands for: its opcode's immediate, invalidation and
   * solicited bits. {@code invalidated} is the rkey a SEND_WITH_INV invalidated (0 for other opcodes).
   */
  void recvSucceeded(RecvWqe recv, WrOpcode op, int imm, boolean solicited, int length, int srcQp, int slid,
      int flags, int invalidated) {
    if (op.hasImm()) {
      flags |= WcFlags.WITH_IMM;
    } else {
      imm = 0;
    }
    if (op == WrOpcode.SEND_WITH_INV) {
      flags |= WcFlags.WITH_INVALIDATE;
    }
    WcOpcode opcode = op == WrOpcode.RDMA_WRITE_WITH_IMM ? WcOpcode.RECV_RDMA_WITH_IMM : WcOpcode.RECV;
    if (!qp.completeRecv(recv, opcode, length, srcQp, slid, flags, imm, invalidated, solicited)) {
      cqOverflowed(false);
    }
  }

  /** A receive ends with an error completion. */
  void recvFailed(RecvWqe recv, WcStatus status) {
    engine.counters().countError(status == WcStatus.WR_FLUSH_ERR);
    if (status != WcStatus.WR_FLUSH_ERR) {
      engine.noteErrorCause(status + " on receive wr_id " + recv.wrId());
    }
    if (!qp.completeRecvError(recv, status)) {
      cqOverflowed(false);
    }
  }

  /**
   * Flushes the receive queue with WR_FLUSH_ERR. A QP on an SRQ leaves the SRQ's WRs there and says once that
   * it takes no more (QP_LAST_WQE_REACHED: safe to destroy); {@code lastWqeReported} is that once.
   *
   * @return the new value of {@code lastWqeReported}
   */
  boolean flushReceives(WorkQueue<RecvWqe> rq, boolean lastWqeReported) {
    if (qp.hasSrq()) {
      if (!lastWqeReported) {
        qp.raiseEvent(AsyncEventType.QP_LAST_WQE_REACHED);
      }
      return true;
    }
    RecvWqe recv;
    while ((recv = rq.take()) != null) {
      recvFailed(recv, WcStatus.WR_FLUSH_ERR);
    }
    return lastWqeReported;
  }

  /**
   * A completion did not fit: a fatal error of this QP (QP_FATAL, then ERR; {@code flush} flushes at once,
   * else the caller's error path does).
   */
  void cqOverflowed(boolean flush) {
    if (qp.moveToError()) {
      engine.logEnteredError("its CQ overflowed (QP_FATAL)");
      qp.raiseEvent(AsyncEventType.QP_FATAL);
      if (flush) {
        engine.flushAll();
      }
    }
  }

  /** True if the WR asked for a solicited event. */
  static boolean solicited(SendWqe wr) {
    return wr.has(SendFlags.SOLICITED);
  }
}
