package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.DEADLINE_MS;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Consumer callbacks that block on purpose, as hostile consumer code does: a contract calls {@link #hold()} from
 * its callbacks, checks that the midlayer goes on meanwhile, then {@link #releaseOnceParked()} in a finally.
 *
 * <p>A release must not overtake a callback between "entered" and its wait: that callback would go through
 * without blocking and the contract monitor (BlockHound) would have nothing to report. So the release waits until
 * every callback that entered is parked.
 */
final class HeldCallbacks {
  private final CountDownLatch entered;
  private final CountDownLatch release = new CountDownLatch(1);
  private final Queue<Thread> held = new ConcurrentLinkedQueue<>();

  /** Expects {@code callbacks} callbacks to be held. */
  HeldCallbacks(int callbacks) {
    this.entered = new CountDownLatch(callbacks);
  }

  /**
   * Called by the callback: blocks until the release, at most a minute, ignoring interrupts (consumer code that
   * ignores them).
   */
  void hold() {
    held.add(Thread.currentThread());
    entered.countDown();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (release.getCount() > 0 && System.nanoTime() < deadline) {
      try {
        release.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        // keep blocking
      }
    }
  }

  /** Waits up to {@code millis} for every expected callback to enter; true if they all did. */
  boolean awaitEntered(long millis) throws InterruptedException {
    return entered.await(millis, TimeUnit.MILLISECONDS);
  }

  /** How many expected callbacks have not entered yet. */
  long notEntered() {
    return entered.getCount();
  }

  /** Opens the release once every callback that entered is parked in its wait (at most the deadline). */
  void releaseOnceParked() {
    try {
      Awaitility.await().atMost(Duration.ofMillis(DEADLINE_MS))
          .until(() -> held.stream().allMatch(t -> t.getState() == Thread.State.TIMED_WAITING));
    } catch (ConditionTimeoutException e) {
      // Released anyway; the assertion that follows reports what the monitor saw.
    } finally {
      release.countDown();
    }
  }
}
