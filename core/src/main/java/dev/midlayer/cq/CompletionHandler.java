package dev.midlayer.cq;

/**
 * A CQ's completion event handler ({@code comp_handler}): called once per arming, when a matching
 * completion was added (see {@link CompletionQueue#requestNotify}). It carries no data: poll the CQ.
 *
 * <p>Called by the CQ's actor, never concurrently with itself for one CQ and never from inside a verb's
 * call; in atomic context: it must not sleep. It may poll, re-arm and post.
 */
@FunctionalInterface
public interface CompletionHandler {
  /**
   * The armed {@code cq} got a matching completion. Called from the CQ actor's turn, in atomic context: it
   * must not sleep, and should return quickly.
   */
  void onCompletion(CompletionQueue cq);
}
