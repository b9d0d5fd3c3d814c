package dev.midlayer.testkit;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Check 5 of the contract monitor, driven: two threads post to two different QPs and poll two different CQs until
 * the monitor's {@link dev.midlayer.monitor.ConcurrencyWitness} saw a post begin while the other thread was inside
 * a post, and a poll while the other was inside a poll; the seed's C6 (no serialisation added on the data path)
 * says that must happen. If it has not after {@code maxOps} operations per thread, the monitor records a
 * {@code SERIALISED} violation and this fails. Bounded by operations, not time: a midlayer that took one lock
 * around every verb fails it however fast the machine is.
 */
public final class DataPathOverlap {
  private DataPathOverlap() {}

  /** One thread's work: post {@code wr} to {@code qp} (QUEUE_FULL is fine) and poll {@code cq}. */
  public record Lane(QueuePair qp, CompletionQueue cq, SendWr wr) {}

  /**
   * Runs the two lanes on two threads until both kinds of overlap were seen or each ran {@code maxOps} times.
   * May sleep (test thread; it joins the two threads).
   */
  public static void assertOverlap(ContractMonitor monitor, Lane a, Lane b, long maxOps) {
    long posts0 = monitor.witness().postOverlaps();
    long polls0 = monitor.witness().pollOverlaps();
    AtomicBoolean seen = new AtomicBoolean();
    Runnable watch = () -> seen.set(monitor.witness().postOverlaps() > posts0
        && monitor.witness().pollOverlaps() > polls0);
    CompletableFuture<Void> first = CompletableFuture.runAsync(() -> drive(a, maxOps, seen, watch),
        runnable -> new Thread(runnable, "overlap-lane-a").start());
    drive(b, maxOps, seen, watch);
    Await.result(first);
    watch.run();
    if (!seen.get()) {
      String what = "after " + maxOps + " posts and polls on each of two threads, on " + a.qp() + " and " + b.qp()
          + ", " + (monitor.witness().postOverlaps() - posts0) + " posts and "
          + (monitor.witness().pollOverlaps() - polls0) + " polls overlapped: verbs on different objects were "
          + "serialised";
      monitor.serialised(what);
      throw new AssertionError("[C6 check 5 SERIALISED] " + what);
    }
  }

  private static void drive(Lane lane, long maxOps, AtomicBoolean seen, Runnable watch) {
    WorkCompletion[] batch = new WorkCompletion[16];
    for (long i = 0; i < maxOps && !seen.get(); i++) {
      try {
        lane.qp().postSend(lane.wr());
      } catch (PostException full) {
        if (full.reason() != PostException.Reason.QUEUE_FULL) {
          throw full;
        }
      }
      lane.cq().poll(batch);
      if ((i & 255) == 0) {
        watch.run();
      }
    }
  }
}
