package dev.midlayer.testsupport;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.EventHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * An event handler for tests: records every event it gets (by identity, in arrival order) and the
 * thread it ran on, optionally logs into a shared {@link EventJournal}, and optionally runs an extra
 * action inside the handler; an event is recorded once the action returned or threw. Tests wait on it with {@link #awaitEvent} (a monitor
 * wait with a deadline, never a sleep).
 *
 * <p>Never put JUnit assertions inside the action: an AssertionError thrown from a handler is not what
 * the test is about. Record problems and assert on the test thread instead.
 */
public final class EventRecorder implements EventHandler {
  private final String name;
  private final EventJournal journal;
  private final Consumer<AsyncEvent> action;
  private final List<AsyncEvent> events = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();

  public EventRecorder(String name) {
    this(name, null, null);
  }

  public EventRecorder(String name, Consumer<AsyncEvent> action) {
    this(name, null, action);
  }

  public EventRecorder(String name, EventJournal journal, Consumer<AsyncEvent> action) {
    this.name = name;
    this.journal = journal;
    this.action = action;
  }

  public String name() {
    return name;
  }

  @Override
  public void onEvent(AsyncEvent event) {
    if (journal != null) {
      journal.enter(name, event);
    }
    try {
      if (action != null) {
        action.accept(event);
      }
    } finally {
      // Recorded when the handler (action included) is done, even if the action threw.
      synchronized (this) {
        events.add(event);
        threads.add(Thread.currentThread());
        notifyAll();
      }
      if (journal != null) {
        journal.exit();
      }
    }
  }

  /** A copy of the events recorded so far, in the order the handler got them. */
  public synchronized List<AsyncEvent> events() {
    return new ArrayList<>(events);
  }

  /** The threads the handler ran on, one per recorded event. */
  public synchronized List<Thread> threads() {
    return new ArrayList<>(threads);
  }

  public synchronized int size() {
    return events.size();
  }

  /** True if this exact event object (identity) was recorded. */
  public synchronized boolean sawIdentical(AsyncEvent event) {
    return indexOfIdentical(event) >= 0;
  }

  /** Waits until this exact event object (identity) was recorded; fails after {@code timeout}. */
  public void awaitEvent(AsyncEvent event, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (indexOfIdentical(event) < 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("handler '" + name + "' did not get " + event + " within " + timeout
              + " (got " + events.size() + " events)");
        }
        waitNanos(left);
      }
    }
  }

  /** Waits until at least {@code count} events were recorded; fails after {@code timeout}. */
  public void awaitCount(int count, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (events.size() < count) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("handler '" + name + "' got " + events.size() + " events, not " + count
              + ", within " + timeout);
        }
        waitNanos(left);
      }
    }
  }

  /**
   * Waits until at least {@code count} events were recorded or {@code max} passed; returns whether the
   * count was reached. For throttling a producer, not for asserting.
   */
  public boolean waitForCount(int count, Duration max) {
    long deadline = System.nanoTime() + max.toNanos();
    synchronized (this) {
      while (events.size() < count) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        waitNanos(left);
      }
      return true;
    }
  }

  private int indexOfIdentical(AsyncEvent event) {
    for (int i = events.size() - 1; i >= 0; i--) {
      if (events.get(i) == event) {
        return i;
      }
    }
    return -1;
  }

  private void waitNanos(long nanos) {
    try {
      long ms = Math.max(1, nanos / 1_000_000);
      wait(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  @Override
  public String toString() {
    return "EventRecorder[" + name + "]";
  }
}
