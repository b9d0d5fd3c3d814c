package dev.midlayer.cq;

import dev.midlayer.verbs.WorkCompletion;

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
  void done(CompletionQueue cq, WorkCompletion wc);
}
