package dev.midlayer.cq;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.verbs.WorkCompletion;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The per-work-request completion callback of the modern CQ API ({@code struct ib_cqe}): set it on a work
 * request posted to a QP whose CQ is polled by its actor ({@link PollContext#ACTOR}), and the CQ actor
 * calls {@link #done} with the request's completion.
 *
 * <p>Runs on the CQ's actor, one completion at a time per CQ, in atomic context: it must not sleep, and
 * may call non-sleeping verbs (post, poll, AH verbs, FMR map).
 */
@FunctionalInterface
public interface Cqe {
  /**
   * The work request completed. Called by the CQ's actor (or, on a {@link PollContext#DIRECT} CQ, by the thread
   * in {@link CompletionQueue#processDirect}), one call at a time per CQ, in atomic context: <b>must not
   * sleep</b>. A callback that throws is logged and the CQ's other completions go on.
   */
  void done(CompletionQueue cq, WorkCompletion wc);

  /**
   * Completions straight to an actor: a callback that tells {@code target} the message {@code adapt} makes of
   * each completion, so an actor handles its work requests' completions as its own messages (as a message
   * adapter does for replies) instead of forwarding them by hand from a callback.
   *
   * <p>The completions of one CQ reach {@code target} in the CQ's order (one sender, one receiver); those of
   * several CQs telling one actor interleave. The actor handles them after the CQ's actor moved on, outside atomic
   * context: a receive buffer the completion names stays the consumer's until it is posted again, and the QP may
   * be in ERR by then. Every posted work request with this callback makes one message, so what the consumer posts
   * bounds the actor's mailbox. A WorkCompletion is immutable and safe to keep.
   *
   * <p>{@code adapt} runs on the CQ's actor in atomic context, so it must not sleep; if it throws, that completion
   * is logged and dropped and the others go on. The tell itself runs there too: give {@code target} a dispatcher
   * whose threads are all started up front (the midlayer's {@code midlayer.callback-dispatcher} or
   * {@code midlayer.client-dispatcher}, where typed clients run, or one with the
   * {@code dev.midlayer.dispatch.PrestartedForkJoinExecutor}), since a pool that grows on demand (Pekko's default
   * fork-join pool, a {@code thread-pool-executor}) may start a thread inside the tell, which the contract
   * monitor reports as blocking in atomic context.
   *
   * <p><b>Never blocks</b>; any thread and any context.
   *
   * @param target the actor that handles the completions
   * @param adapt makes the actor's message of a completion, e.g. a record's constructor ({@code Completed::new})
   * @throws InvalidArgumentException if either is null
   */
  static <T> Cqe tell(ActorRef<? super T> target, Function<? super WorkCompletion, ? extends T> adapt) {
    InvalidArgumentException.requireNonNull(target, "target");
    InvalidArgumentException.requireNonNull(adapt, "adapt");
    return (cq, wc) -> target.tell(adapt.apply(wc));
  }
}
