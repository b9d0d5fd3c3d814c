package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.backOff;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SendWr;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Runs bodies on their own threads; {@link #join()} waits with a deadline and rethrows the first failure. */
final class Workers {
  final List<Thread> threads = new ArrayList<>();
  private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean abort = new AtomicBoolean();

  interface Body {
    void run() throws Exception;
  }

  void start(String name, Body body) {
    Thread t = new Thread(() -> {
      try {
        body.run();
      } catch (Throwable e) {
        failures.add(e);
        abort.set(true);
      }
    }, name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
  }

  boolean aborted() {
    return abort.get();
  }

  void join() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * ConformanceFixture.DEADLINE_MS);
    for (Thread t : threads) {
      t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      if (t.isAlive()) {
        abort.set(true);
        for (Thread u : threads) {
          u.interrupt();
        }
        fail(t.getName() + " did not finish in time; failures so far: " + failures);
      }
    }
    Throwable first = failures.peek();
    if (first != null) {
      AssertionError e = new AssertionError("a worker failed: " + first, first);
      failures.stream().skip(1).forEach(e::addSuppressed);
      throw e;
    }
  }

  /** Posts {@code wr}, backing off while the send queue is full (QUEUE_FULL is an immediate error, never a wait). */
  static void postSendRetrying(QueuePair qp, SendWr wr, Workers w, long deadline) {
    int spins = 0;
    while (true) {
      try {
        qp.postSend(wr);
        return;
      } catch (PostException e) {
        if (e.reason() != PostException.Reason.QUEUE_FULL) {
          throw e;
        }
      }
      if (w.aborted() || System.nanoTime() > deadline) {
        throw new AssertionError("the send queue of " + qp + " stayed full");
      }
      backOff(spins++);
    }
  }

  /** The overall deadline of a wait started now, in {@link System#nanoTime()} terms. */
  static long deadline() {
    return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ConformanceFixture.DEADLINE_MS);
  }
}
