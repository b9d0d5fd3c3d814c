package dev.midlayer.spi;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;

/**
 * The midlayer's side of one queue pair as its driver sees it. The midlayer owns the QP's work queues, its
 * state machine and attributes, and its completion queues; the driver executes the work requests, reports
 * their outcome here, and moves the QP to an error state when the transport says so. Given to
 * {@link DeviceOps.CreateQp}; a peer's is found with {@link DriverDevice#qp(int)}.
 *
 * <p>Threading: the getters and {@link #moveToError()}, {@link #moveToSqError()} and {@link #raiseEvent}
 * never block and may be called from any thread. The queue methods ({@link #sendQueue()},
 * {@link #takeRecv()}, the completions, {@link #executeLocal}, {@link #reset}) are for the driver's one
 * consumer of this QP (its actor), one thread at a time. Nothing here calls back into the driver or into
 * consumer code on the calling thread: completion and event callbacks are deferred to the midlayer's
 * callback dispatcher.
 */
public interface QpContext {
  /** The QP number (24 bits). */
  int qpNum();

  /** The transport type. */
  QpType type();

  /** The QP's protection domain (its handle on the device, as {@link MemoryMapping#pdHandle()}). */
  int pdHandle();

  /** The device the QP is on. */
  DriverDevice device();

  /** What the driver's {@code create_qp} returned for this QP. */
  DriverQp driver();

  /** The current state. */
  QpState state();

  /** The current attributes (their state may lag {@link #state()}); replaced whole by each modify. Allocates nothing. */
  QpAttr attributes();

  /** True if a send WR's success produces a completion (IB_SIGNAL_ALL_WR, or the request is SIGNALED). */
  boolean signaled(SendWqe wqe);

  /** The send queue. */
  WorkQueue<SendWqe> sendQueue();

  /** The QP's own receive queue (always empty for a QP on a shared receive queue). */
  WorkQueue<RecvWqe> recvQueue();

  /** True if the QP takes its receives from a shared receive queue. */
  boolean hasSrq();

  /**
   * The next receive for an incoming message: from the shared receive queue if the QP has one (which may
   * raise SRQ_LIMIT_REACHED, delivered later), else from its own receive queue; null if none is posted.
   */
  RecvWqe takeRecv();

  /**
   * Finishes a send WR with a completion: its status, and for a success the byte count of the gather list.
   * Every error and every flush completes, signaled or not; a success only if {@link #signaled}. The WR's
   * slot in the send queue is free again once the completion was polled (as on hardware).
   *
   * @return false if the completion did not fit in the send CQ (it overflowed, or was destroyed): a fatal
   *     error of this QP, which the driver must move to ERR
   */
  boolean completeSend(SendWqe wqe, WcStatus status);

  /**
   * Finishes the next {@code count} send WRs, unsignaled ones that succeeded: no completions; their slots are
   * free at once. One atomic update per call, whatever {@code count}: a driver retiring a run of them (an ACK
   * that covers many) counts them and calls once, before it completes the next WR of the send queue, as a
   * NIC's completion retires the unsignaled WQEs before it. Never blocks; the driver's actor.
   */
  void finishUnsignaled(int count);

  /**
   * Finishes a receive with a successful completion.
   *
   * @param opcode RECV or RECV_RDMA_WITH_IMM
   * @param byteLen bytes received
   * @param srcQp the sender's QP number
   * @param slid the sender's LID (UD)
   * @param wcFlags {@link dev.midlayer.ib.WcFlags}
   * @param immData the immediate value (with WITH_IMM)
   * @param invalidatedRkey the key a SEND_WITH_INV invalidated (with WITH_INVALIDATE), else 0
   * @param solicited true if the message was sent with SOLICITED (wakes a CQ armed for solicited events)
   * @return false if the completion did not fit in the receive CQ (a fatal error of this QP)
   */
  boolean completeRecv(RecvWqe wqe, WcOpcode opcode, int byteLen, int srcQp, int slid, int wcFlags, int immData,
      int invalidatedRkey, boolean solicited);

  /** Finishes a receive with an error (a flush included). Same return as {@link #completeRecv}. */
  boolean completeRecvError(RecvWqe wqe, WcStatus status);

  /**
   * Executes a REG_MR or LOCAL_INV work request in the QP's protection domain (the memory side of
   * {@code rxe_reg_fast_mr} and {@code rxe_invalidate_mr}); the driver then completes it.
   */
  MemoryOpResult executeLocal(SendWqe wqe);

  /**
   * Applies a modify to RESET: drops every work request still queued and frees every slot of the QP's
   * queues (those of WQEs the driver took and had not finished, and of completions not polled yet), without
   * completions. The driver forgets the WQEs it held. Driver actor only.
   */
  void reset();

  /**
   * A transport or local error moves the QP to ERR (from any state but RESET). Returns true if this call
   * made the transition (the driver then flushes). Lock-free.
   */
  boolean moveToError();

  /** A UD or UC send error moves the QP from RTS to SQE. Returns true if it did. Lock-free. */
  boolean moveToSqError();

  /**
   * Raises an affiliated event of this QP (QP_FATAL, COMM_EST, SQ_DRAINED, QP_LAST_WQE_REACHED, ...) for
   * the QP's event handler. Only enqueues: the handler runs later, never on the calling thread.
   */
  void raiseEvent(AsyncEventType type);
}
