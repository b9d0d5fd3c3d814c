package dev.midlayer.testkit;

import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A completion handler that records, in order, every completion of its CQ: on each call it polls the CQ empty
 * and re-arms it with the race-free idiom (poll until {@code requestNotify(NEXT_COMP, true)} reports nothing
 * missed), so no completion is stranded. Give it to {@code Device.createCq} (and arm the CQ once), or to
 * {@link ConnectedPair.Builder#completionHandlers}. {@link #onCompletion} runs in the CQ's actor (atomic context,
 * never blocks); the rest is for the test.
 */
public final class CompletionProbe implements CompletionHandler {
  private final List<WorkCompletion> completions = new CopyOnWriteArrayList<>();
  private final AtomicInteger calls = new AtomicInteger();

  /** Drains and re-arms the CQ. Called by the midlayer; never blocks. */
  @Override
  public void onCompletion(CompletionQueue cq) {
    calls.incrementAndGet();
    do {
      for (WorkCompletion wc; (wc = cq.poll()) != null; ) {
        completions.add(wc);
      }
    } while (cq.requestNotify(CqNotify.NEXT_COMP, true));
  }

  /** The completions so far, in the order the CQ returned them. Any thread. */
  public List<WorkCompletion> completions() {
    return List.copyOf(completions);
  }

  /** How many times the handler was called. Any thread. */
  public int calls() {
    return calls.get();
  }

  /** Waits until {@code n} completions came and returns the first {@code n}. Blocks the test thread. */
  public List<WorkCompletion> await(int n) {
    Await.eventually(() -> {
      if (completions.size() < n) {
        throw new AssertionError(completions.size() + " of " + n + " completions so far: " + completions);
      }
    });
    return List.copyOf(completions.subList(0, n));
  }
}
