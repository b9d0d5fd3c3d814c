package dev.midlayer.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.TransportCounters;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A queue pair ({@code struct ib_qp}): a send queue and a receive queue, a transport type, a state, and
 * attributes. Created with {@link ProtectionDomain#createQp}. The midlayer owns the work queues (bounded
 * lock-free rings), the state machine ({@link dev.midlayer.ib.QpStateTable}) and the checks of every post;
 * the driver executes the work and produces the completions.
 *
 * <p>Threading: {@link #postSend} and {@link #postRecv} are <b>synchronous, never block, and may be called
 * from any thread and any context, concurrently</b> (callbacks included); they never call back into the
 * caller. {@link #modify}, the drains and {@link #destroy} <b>may sleep</b> (not from atomic context).
 * Getters never block.
 */
public interface QueuePair {
  /** The protection domain. */
  ProtectionDomain pd();

  /** The device. */
  default Device device() {
    return pd().device();
  }

  /** The transport type. */
  QpType type();

  /** The QP number (24 bits). */
  int qpNum();

  /** The CQ of the send queue. */
  CompletionQueue sendCq();

  /** The CQ of the receive queue. */
  CompletionQueue recvCq();

  /** The capabilities provided. */
  QpCap cap();

  /** The shared receive queue the QP takes receives from, or null. */
  SharedReceiveQueue srq();

  /** True if every send WR completes; false if only SIGNALED ones (and errors) do. */
  boolean signalAll();

  /** The context given at creation, or null. */
  Object context();

  /** The current state. */
  QpState state();

  /** The current attributes ({@code ib_query_qp}), state included. Never blocks. */
  QpAttr query();

  /**
   * The QP's transport counters now ({@code rdma statistic qp}, a software device's {@code hw_counters}):
   * packets and bytes each way, retransmissions, RNR and sequence NAKs sent and received, duplicates, ACK
   * timeouts, exhausted retry budgets, error and flush completions, and the CQ overflows its completions caused
   * (counted by the midlayer, so with any driver); a driver that keeps none reports zero for the others.
   * <b>Never blocks; any thread</b>, callbacks included (counter reads, no message); each counter is exact, the
   * set is not one instant.
   */
  TransportCounters counters();

  /** Posts one send work request; see {@link #postSend(List)}. */
  void postSend(SendWr wr);

  /**
   * Posts send work requests in order ({@code ib_post_send}). Allowed in RTS, SQD (queued, not started),
   * SQE and ERR (flushed with WR_FLUSH_ERR). Processing stops at the first request that cannot be posted;
   * the ones before it stay posted. Everything found while executing (bad keys, remote errors, RNR,
   * timeouts) comes back as a completion, never from here. <b>Never blocks; any thread and any context.</b>
   *
   * @throws PostException naming the request and why: {@code INVALID} for the wrong state, a destroyed QP,
   *     an opcode the QP type does not take, too many SGEs, inline data too long, a UD request without a
   *     valid address handle of the QP's PD, a message larger than the port allows; {@code QUEUE_FULL} when
   *     {@code maxSendWr} requests are outstanding
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  void postSend(List<SendWr> wrs);

  /** Posts one receive work request; see {@link #postRecv(List)}. */
  void postRecv(RecvWr wr);

  /**
   * Posts receive work requests in order ({@code ib_post_recv}). Allowed from INIT on; in ERR they are
   * flushed. Stops at the first one that cannot be posted; earlier ones stay posted. <b>Never blocks; any
   * thread and any context.</b>
   *
   * @throws PostException {@code INVALID} in RESET, for a destroyed QP, a QP on an SRQ or too many SGEs;
   *     {@code QUEUE_FULL} when {@code maxRecvWr} requests are outstanding
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  void postRecv(List<RecvWr> wrs);

  /**
   * Modifies the QP's state and attributes ({@code ib_modify_qp}). The mask must contain every attribute
   * the transition requires and none it does not allow ({@link dev.midlayer.ib.QpStateTable}); a mask
   * without STATE keeps the state. If anything is wrong, nothing changes. To ERR, every outstanding work
   * request completes with WR_FLUSH_ERR in posting order; to RESET, they are dropped without completions.
   * <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link dev.midlayer.ib.InvalidArgumentException} naming the transition,
   *     the mask bits or the attribute value that was wrong
   */
  CompletionStage<Done> modify(QpAttr newAttr, int mask);

  /**
   * Drains the send queue ({@code ib_drain_sq}): moves the QP to ERR, posts a marker, and completes when
   * the marker's flush completion has been processed, so every earlier send WR has been reported. The
   * send CQ must come from {@link Device#allocCq} (the marker is seen by its {@code Cqe}); for a
   * {@link PollContext#DIRECT} CQ the drain polls it itself every millisecond, calling the other
   * completions' {@code done} too, so nobody else should poll it meanwhile. Needs room for one more WR.
   * <b>May sleep</b>: not from atomic context (never from the CQ's own callbacks).
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the send CQ was made with {@code createCq}
   */
  CompletionStage<Done> drainSq();

  /**
   * Drains the receive queue ({@code ib_drain_rq}) the same way with an empty receive marker; nothing to do
   * for a QP on an SRQ. See {@link #drainSq()}. <b>May sleep</b>.
   */
  CompletionStage<Done> drainRq();

  /** Drains the send queue, then the receive queue ({@code ib_drain_qp}). <b>May sleep</b>. */
  default CompletionStage<Done> drainQp() {
    return drainSq().thenCompose(d -> drainRq());
  }

  /**
   * Destroys the QP ({@code ib_destroy_qp}). Outstanding work requests vanish without completions: drain
   * first. When the stage completes, nothing of the QP runs any more. <b>May sleep</b>: not from atomic
   * context (never from the QP's own event handler).
   */
  CompletionStage<Done> destroy();
}
