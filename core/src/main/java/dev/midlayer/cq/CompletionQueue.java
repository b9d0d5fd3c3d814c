package dev.midlayer.cq;

import dev.midlayer.device.Device;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A completion queue ({@code struct ib_cq}): a bounded lock-free ring owned by the midlayer that the driver
 * fills and consumers drain with {@link #poll}. Each CQ has its own actor, which runs the completion handler
 * (or, for {@link PollContext#ACTOR}, the per-WR {@link Cqe#done} callbacks) one call at a time, always by
 * a message and never from inside a verb's call chain. Created with {@link Device#createCq} or
 * {@link Device#allocCq}.
 *
 * <p>Threading: {@link #poll}, {@link #requestNotify} and {@link #processDirect} <b>never block and may be
 * called from any thread, concurrently</b>, callbacks included; each completion is returned to exactly one
 * poller (which poller gets which is not defined). {@link #destroy()} <b>may sleep</b> (not from atomic
 * context).
 *
 * <p>After destruction the non-sleeping verbs ({@link #poll}, {@link #requestNotify}, {@link #processDirect})
 * throw {@link dev.midlayer.verbs.ObjectDestroyedException}, or
 * {@link dev.midlayer.device.DeviceUnregisteredException} once the device's unregistration completed (which
 * reclaims every CQ), instead of answering as an empty CQ.
 *
 * <p>Sizing: a work request's slot in its queue is free again only once its completion was polled, as on
 * hardware, so a CQ with at least as many entries as the depths of the queues that complete into it
 * ({@code maxSendWr} + {@code maxRecvWr} of each QP, {@code maxWr} of each SRQ) never overflows.
 *
 * <p>Overflow: a completion that does not fit is never dropped silently and never waited for: the CQ
 * enters error, its event handler gets {@code CQ_ERR}, and every QP that completes into it moves to ERR
 * and gets {@code QP_FATAL}.
 */
public interface CompletionQueue {
  /** Completions per poll in the actor's batches ({@code IB_POLL_BATCH}). */
  int POLL_BATCH = 16;

  /** The device. */
  Device device();

  /** The CQ's number on its device (the element of its CQ_ERR events). */
  int number();

  /** How many completions fit: the requested depth rounded up to a power of two. */
  int capacity();

  /** The context given at creation ({@code cq_context}), or null. */
  Object context();

  /** The poll context for CQs made with {@link Device#allocCq}; null for CQs with a completion handler. */
  PollContext pollContext();

  /** How many completions are waiting ({@code ib_peek_cq}), approximate under concurrency. Never blocks. */
  int peek();

  /** True once a completion did not fit: the CQ is in error. */
  boolean overflowed();

  /**
   * Takes up to {@code max} completions into {@code out} from index 0 ({@code ib_poll_cq}) and returns how
   * many. Completions of one work queue come out in posting order; concurrent pollers each get different
   * completions. <b>Never blocks; any thread and any context.</b>
   */
  int poll(WorkCompletion[] out, int max);

  /** Same as {@code poll(out, out.length)}. */
  default int poll(WorkCompletion[] out) {
    return poll(out, out.length);
  }

  /** One completion, or null if none is waiting. <b>Never blocks; any thread and any context.</b> */
  WorkCompletion poll();

  /**
   * Arms the CQ for one notification ({@code ib_req_notify_cq}): the completion handler (or, for
   * {@link PollContext#ACTOR}, the actor's polling) runs once when a matching completion is added, and
   * the CQ is disarmed as it fires. Arming NEXT_COMP over SOLICITED upgrades it; SOLICITED never
   * downgrades NEXT_COMP. <b>Never blocks; any thread and any context.</b>
   *
   * <p>The race-free idiom: poll until empty; then {@code requestNotify(..., true)}; if it returns true,
   * poll again, since completions may have arrived between the last poll and the arming.
   *
   * @param reportMissedEvents if true, return whether completions are waiting now
   * @return with {@code reportMissedEvents}: true if completions may have been missed (poll again); false
   *     when it is safe to wait for the handler. Always false without it.
   */
  boolean requestNotify(CqNotify which, boolean reportMissedEvents);

  /**
   * Polls up to {@code budget} completions in the caller's thread and calls each one's {@link Cqe#done}
   * ({@code ib_process_cq_direct}); for {@link PollContext#DIRECT} CQs. Returns how many were processed.
   * Completions without a {@code Cqe} are skipped. <b>Never blocks by itself</b>; the callbacks run on the
   * caller's thread, in atomic context (a may-sleep verb there is refused), and one that throws is logged
   * without stranding the ones after it.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException for a CQ that is not DIRECT (its actor or handler
   *     polls it, and two pollers would run its callbacks at once)
   */
  int processDirect(int budget);

  /**
   * Destroys the CQ ({@code ib_destroy_cq}); completions still in it are dropped and its actor stops: when
   * the stage completes, no callback of the CQ runs any more. <b>May sleep</b>: not from atomic context (so
   * never from its own handler).
   *
   * @return a stage that fails with {@link dev.midlayer.verbs.ResourceBusyException} while QPs or SRQs use
   *     the CQ
   */
  CompletionStage<Done> destroy();
}
