package dev.midlayer.monitor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Positive evidence for the seed's C6 (no serialisation added on the data path): counts the times a post began
 * while another thread was inside a post, and a poll began while another was inside a poll. A midlayer that took
 * one lock around every verb would never show an overlap, however long it ran. Lock-free; never blocks; any
 * thread.
 */
public final class ConcurrencyWitness {
  private final AtomicInteger postsInside = new AtomicInteger();
  private final AtomicInteger pollsInside = new AtomicInteger();
  private final LongAdder postOverlaps = new LongAdder();
  private final LongAdder pollOverlaps = new LongAdder();

  ConcurrencyWitness() {}

  void enter(NonSleepingVerb verb) {
    if (verb.isPost()) {
      if (postsInside.incrementAndGet() > 1) {
        postOverlaps.increment();
      }
    } else if (verb.isPoll()) {
      if (pollsInside.incrementAndGet() > 1) {
        pollOverlaps.increment();
      }
    }
  }

  void exit(NonSleepingVerb verb) {
    if (verb.isPost()) {
      postsInside.decrementAndGet();
    } else if (verb.isPoll()) {
      pollsInside.decrementAndGet();
    }
  }

  /** How many posts began while another thread was inside a post. */
  public long postOverlaps() {
    return postOverlaps.sum();
  }

  /** How many polls began while another thread was inside a poll. */
  public long pollOverlaps() {
    return pollOverlaps.sum();
  }

  @Override
  public String toString() {
    return "concurrency witness: " + postOverlaps() + " overlapping posts, " + pollOverlaps() + " overlapping polls";
  }
}
