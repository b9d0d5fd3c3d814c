package dev.midlayer.spi;

import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.ib.WrOpcode;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A driver's side of one queue pair, made by its {@link DeviceOps.CreateQp} op. The midlayer owns the QP's
 * work queues, state and attributes ({@link QpContext}); the driver executes work requests, reports their
 * outcome through the {@link QpContext} (never from inside a post: it defers, e.g. with a message to its own
 * actor), and reports transport errors by moving the QP to ERR.
 */
public interface DriverQp {
  /**
   * The send queue went from idle to busy. <b>Must not block; called from any thread</b>, inside
   * {@code postSend}: wake the consumer (one message) and return.
   */
  void sendDoorbell();

  /** A receive was posted while the QP is in ERR: it must be flushed. <b>Must not block; any thread.</b> */
  void flushDoorbell();

  /**
   * The midlayer validated and applied a modify from {@code from} to {@code to} (the QP's state and
   * attributes are already updated). The driver adapts: to ERR, flush every outstanding WR with
   * WR_FLUSH_ERR in posting order; to RESET, drop them without completions ({@link QpContext#reset}).
   * Returns a stage that completes once the driver has applied the change (the flushes are in the CQs, or
   * the queues are empty): the modify completes only then. Must not block; called on a midlayer actor, never
   * inside a post.
   */
  CompletionStage<?> modified(QpState from, QpState to, QpAttr attr, int mask);

  /** The QP is destroyed: outstanding WRs vanish without completions. Must not block; called on the device actor. */
  void destroy();

  /**
   * True if the driver executes {@code opcode}; a post of any other opcode is refused as INVALID, so a work
   * request the driver cannot carry out never enters the queue.
   */
  default boolean supports(WrOpcode opcode) {
    return true;
  }

  /**
   * The QP's transport counters now ({@code hw_counters}): what the driver's transport carried and what went
   * wrong on the way. {@link TransportCounters#ZERO} if the driver keeps none. <b>Must not block; any thread</b>
   * (a counter read, no message).
   */
  default TransportCounters counters() {
    return TransportCounters.ZERO;
  }

  /**
   * The driver actor that executes this QP's work, or null. The QP's destruction completes only once it has
   * stopped (after {@link #destroy()}), so nothing of the QP runs afterwards.
   */
  default ActorRef<?> actor() {
    return null;
  }
}
