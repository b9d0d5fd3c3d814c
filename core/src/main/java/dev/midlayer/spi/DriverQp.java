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
 *
 * <p>Threading: the midlayer calls each method from the threads its Javadoc names, and none may sleep: the
 * doorbells and {@link #supports} run inside a consumer's post (any thread, atomic context included), the
 * others in a midlayer actor's turn, where a wait would hold up every object of the device.
 */
public interface DriverQp {
  /**
   * The send queue went from idle to busy. <b>Must not sleep or block; called from any thread</b>, inside
   * {@code postSend} on the poster's thread (or by a {@code drainSq} posting its marker): wake the consumer
   * (one message) and return.
   */
  void sendDoorbell();

  /**
   * A receive was posted while the QP is in ERR: it must be flushed. <b>Must not sleep or block; any
   * thread</b> (inside {@code postRecv} on the poster's thread, or a {@code drainRq} posting its marker).
   */
  void flushDoorbell();

  /**
   * The midlayer validated and applied a modify from {@code from} to {@code to} (the QP's state and
   * attributes are already updated). The driver adapts: to ERR, flush every outstanding WR with
   * WR_FLUSH_ERR in posting order; to RESET, drop them without completions ({@link QpContext#reset}).
   * Returns a stage that completes once the driver has applied the change (the flushes are in the CQs, or
   * the queues are empty): the modify completes only then. Must not sleep: return the stage and complete it
   * later. Called in a midlayer actor's turn (the device actor's for {@code modifyQp}, the drains and a
   * reclaim; a CQ actor's when the QP's CQ overflowed), never inside a post.
   */
  CompletionStage<?> modified(QpState from, QpState to, QpAttr attr, int mask);

  /**
   * The QP is destroyed (or reclaimed at unregistration): outstanding WRs vanish without completions. Must
   * not sleep; called in the device actor's turn.
   */
  void destroy();

  /**
   * True if the driver executes {@code opcode}; a post of any other opcode is refused as INVALID, so a work
   * request the driver cannot carry out never enters the queue. Must not sleep (keep it a lookup); called
   * from any thread, inside {@code postSend} on the poster's thread, once per work request.
   */
  default boolean supports(WrOpcode opcode) {
    return true;
  }

  /**
   * The QP's transport counters now ({@code hw_counters}): what the driver's transport carried and what went
   * wrong on the way; {@code cqOverflows} stays 0 (the CQs are the midlayer's: it adds their overflows).
   * {@link TransportCounters#ZERO} if the driver keeps none. <b>Must not sleep or block; any
   * thread</b> (a counter read, no message): the consumer's {@code counters()}, the device's sums, and the
   * device actor's turn when the QP is destroyed.
   */
  default TransportCounters counters() {
    return TransportCounters.ZERO;
  }

  /**
   * The driver actor that executes this QP's work, or null. The QP's destruction completes only once it has
   * stopped (after {@link #destroy()}), so nothing of the QP runs afterwards. Must not sleep; called in the
   * device actor's turn, after {@link #destroy()}.
   */
  default ActorRef<?> actor() {
    return null;
  }
}
