package dev.midlayer.testsupport;

import dev.midlayer.device.AsyncEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A log shared by several {@link EventRecorder}s: one entry per handler invocation, in the order the
 * invocations started, plus the highest number of invocations that were running at the same time.
 */
public final class EventJournal {
  /** One handler invocation. */
  public record Entry(String handler, AsyncEvent event, Thread thread) {}

  private final List<Entry> entries = new ArrayList<>();
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger maxRunning = new AtomicInteger();

  void enter(String handler, AsyncEvent event) {
    int now = running.incrementAndGet();
    maxRunning.accumulateAndGet(now, Math::max);
    synchronized (this) {
      entries.add(new Entry(handler, event, Thread.currentThread()));
    }
    // Widen a little the window in which an overlapping invocation would be seen (a short spin: a
    // yield costs a whole time slice on a loaded machine).
    for (int i = 0; i < 200; i++) {
      Thread.onSpinWait();
    }
  }

  void exit() {
    running.decrementAndGet();
  }

  public synchronized List<Entry> entries() {
    return new ArrayList<>(entries);
  }

  /** The most handler invocations that ever ran at the same time. */
  public int maxConcurrent() {
    return maxRunning.get();
  }
}
