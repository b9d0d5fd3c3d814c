package dev.midlayer.testsupport;

import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Helpers for the CQ tests, where the test plays the driver: building work completions, plain threads
 * that push or poll, deadlines and back-off for spin-waits (never a sleep).
 */
public final class CqFixtures {
  /** Upper bound for anything a test waits for; a correct run takes a fraction of it. */
  public static final Duration TIMEOUT = Duration.ofSeconds(20);

  private CqFixtures() {}

  /** A successful receive completion for {@code wrId} on QP 1, without a Cqe. */
  public static WorkCompletion success(long wrId) {
    return success(wrId, null);
  }

  /** A successful receive completion for {@code wrId} on QP 1, carrying {@code cqe}. */
  public static WorkCompletion success(long wrId, Cqe cqe) {
    return new WorkCompletion(wrId, cqe, WcStatus.SUCCESS, WcOpcode.RECV, 64, 1, 0, 0, 0, 0, 0, 0, 1);
  }

  /** A failed send completion for {@code wrId} on QP 1. */
  public static WorkCompletion failed(long wrId, WcStatus status) {
    return failed(wrId, null, status);
  }

  /** A failed send completion for {@code wrId} on QP 1, carrying {@code cqe}. */
  public static WorkCompletion failed(long wrId, Cqe cqe, WcStatus status) {
    return WorkCompletion.error(wrId, cqe, status, WcOpcode.SEND, 1, 0);
  }

  /** A spin-wait back-off: a few {@link Thread#onSpinWait()}, then {@link Thread#yield()}. Not thread-safe. */
  public static final class Backoff {
    private int idle;

    /** Called when there was nothing to do. */
    public void pause() {
      if (++idle < 64) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }

    /** Called when there was work. */
    public void reset() {
      idle = 0;
    }
  }

  /** A point in time after which spinning loops give up (so a broken test fails instead of hanging). */
  public static final class Deadline {
    private final long end;

    private Deadline(long end) {
      this.end = end;
    }

    public static Deadline in(Duration d) {
      return new Deadline(System.nanoTime() + d.toNanos());
    }

    public boolean passed() {
      return System.nanoTime() - end > 0;
    }
  }

  /** Busy-spins for about {@code nanos} (a handler must not sleep); backs off with onSpinWait. */
  public static void spinFor(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }

  /** The body of one worker thread. */
  @FunctionalInterface
  public interface WorkerBody {
    void run(int index) throws Exception;
  }

  /** Plain threads started together (they wait for a common start signal), with their failures. */
  public static final class Workers {
    private final List<Thread> threads = new ArrayList<>();
    private final List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch start = new CountDownLatch(1);

    /** Starts {@code n} threads named {@code name-i}; each waits for the common start, then runs {@code body(i)}. */
    public static Workers start(String name, int n, WorkerBody body) {
      Workers w = new Workers();
      for (int i = 0; i < n; i++) {
        int index = i;
        Thread t = new Thread(() -> {
          try {
            w.start.await();
            body.run(index);
          } catch (Throwable e) {
            w.errors.add(e);
          }
        }, name + "-" + i);
        t.setDaemon(true);
        w.threads.add(t);
        t.start();
      }
      return w;
    }

    /** Releases every thread of every given group at once. */
    public static void go(Workers... groups) {
      for (Workers g : groups) {
        g.start.countDown();
      }
    }

    /** The threads, e.g. to compare with the thread a callback ran on. */
    public List<Thread> threads() {
      return threads;
    }

    /** Waits for every thread; fails if one is still running after {@code timeout} or one threw. */
    public void join(Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      for (Thread t : threads) {
        long left = Math.max(1, (end - System.nanoTime()) / 1_000_000);
        t.join(left);
        if (t.isAlive()) {
          fail(t.getName() + " still running after " + timeout);
        }
      }
      if (!errors.isEmpty()) {
        AssertionError e = new AssertionError(errors.size() + " worker(s) failed; first: " + errors.get(0),
            errors.get(0));
        for (int i = 1; i < errors.size(); i++) {
          e.addSuppressed(errors.get(i));
        }
        throw e;
      }
    }
  }
}
