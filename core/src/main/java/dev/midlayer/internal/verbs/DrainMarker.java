package dev.midlayer.internal.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.Cqe;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;

/**
 * Internal API. The completion callback of a drain's marker WR: the drain completes when the marker's
 * (flush) completion is processed, and fails with a typed error when that completion can never come (the CQ
 * refused it, the QP was destroyed). Whichever happens first wins; any thread.
 */
final class DrainMarker implements Cqe {
  final CompletableFuture<Done> done = new CompletableFuture<>();
  final String verb;

  DrainMarker(String verb) {
    this.verb = verb;
  }

  @Override
  public void done(CompletionQueue cq, WorkCompletion wc) {
    done.complete(Done.getInstance());
  }

  /** The marker's completion will never be processed: the drain fails with {@code why}. */
  void fail(RuntimeException why) {
    done.completeExceptionally(why);
  }
}
