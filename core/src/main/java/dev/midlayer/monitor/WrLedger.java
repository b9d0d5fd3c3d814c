package dev.midlayer.monitor;

import dev.midlayer.ib.WcStatus;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The exactly-once ledger of a {@link ContractMonitor}: every work request accepted by a post, per work queue
 * (a QP's send queue, its receive queue, an SRQ), and every completion a driver produced for it. A completion
 * of a request that is not outstanding is a double completion (reported at once); a request still outstanding
 * when its queue was torn down after the QP entered the error state was never flushed (reported by
 * {@link ContractMonitor#verify()}).
 *
 * <p>What is not a violation, as IB defines it: requests discarded by a modify to RESET, requests outstanding
 * when a consumer destroyed a QP that was not in the error state (destroy discards them; counted in
 * {@link #discardedByDestroy()}), and receives left in an SRQ. Successful unsignaled sends produce no
 * completion; the driver reports how many finished ({@code finishUnsignaled}) and the ledger counts them.
 *
 * <p>Thread safety: every method is lock-free, never blocks and may be called from any thread.
 */
public final class WrLedger {
  private final ContractMonitor monitor;
  private final ConcurrentHashMap<Object, Queue> queues = new ConcurrentHashMap<>();
  private final LongAdder accepted = new LongAdder();
  private final LongAdder completed = new LongAdder();
  private final LongAdder flushed = new LongAdder();
  private final LongAdder discardedByReset = new LongAdder();
  private final LongAdder discardedByDestroy = new LongAdder();

  WrLedger(ContractMonitor monitor) {
    this.monitor = monitor;
  }

  /** One work queue's outstanding requests. */
  private static final class Queue {
    final String name;
    final Object owner;
    /** Requests that will produce a completion whatever happens. Identity: a WQE is one post. */
    final Set<Object> signaled = Collections.newSetFromMap(new ConcurrentHashMap<>());
    /** Unsignaled sends: a completion only on error or flush. */
    final Set<Object> unsignaled = Collections.newSetFromMap(new ConcurrentHashMap<>());
    final AtomicLong finishedUnsignaled = new AtomicLong();
    volatile boolean tornDown;
    volatile boolean flushExpected;

    Queue(String name, Object owner) {
      this.name = name;
      this.owner = owner;
    }

    long outstanding() {
      return signaled.size() + Math.max(0, unsignaled.size() - finishedUnsignaled.get());
    }
  }

  private Queue queue(Object queue, String name, Object owner) {
    return queues.computeIfAbsent(queue, q -> new Queue(name, owner));
  }

  /** Work requests accepted by posts so far. */
  public long accepted() {
    return accepted.sum();
  }

  /** Completions produced by drivers so far (flushes included). */
  public long completed() {
    return completed.sum();
  }

  /** Of those, flushes ({@code WR_FLUSH_ERR}). */
  public long flushed() {
    return flushed.sum();
  }

  /** Requests discarded by a modify to RESET (IBA 10.3.1: no completion). */
  public long discardedByReset() {
    return discardedByReset.sum();
  }

  /** Requests outstanding when a consumer destroyed a QP that was not in the error state. */
  public long discardedByDestroy() {
    return discardedByDestroy.sum();
  }

  /** Requests outstanding on queues still alive. */
  public long outstanding() {
    long n = 0;
    for (Queue q : queues.values()) {
      if (!q.tornDown) {
        n += q.outstanding();
      }
    }
    return n;
  }

  // ---- called by the midlayer ----

  /**
   * A post is about to hand {@code wqe} to {@code queue} (named {@code name}, of {@code owner}). Recorded
   * before the hand-off, because the driver may complete it before the post returns.
   */
  public void posted(Object queue, String name, Object owner, Object wqe, boolean signaled) {
    Queue q = queue(queue, name, owner);
    (signaled ? q.signaled : q.unsignaled).add(wqe);
    accepted.increment();
  }

  /** The hand-off of {@code wqe} was refused (the queue was full): it was never accepted. */
  public void refused(Object queue, Object wqe) {
    Queue q = queues.get(queue);
    if (q != null && (q.signaled.remove(wqe) || q.unsignaled.remove(wqe))) {
      accepted.decrement();
    }
  }

  /** A driver completed {@code wqe} of {@code queue} with {@code status}; a second completion is a violation. */
  public void completed(Object queue, String name, Object owner, Object wqe, WcStatus status) {
    Queue q = queue(queue, name, owner);
    completed.increment();
    if (status == WcStatus.WR_FLUSH_ERR) {
      flushed.increment();
    }
    if (!q.signaled.remove(wqe) && !q.unsignaled.remove(wqe)) {
      monitor.record(Violation.now(Check.NOT_EXACTLY_ONCE, Rule.EXACTLY_ONCE, "work request wr_id "
          + wrId(wqe) + " on " + name + " completed (" + status + ") but was not outstanding: a second "
          + "completion, or one for a request never posted", owner, null));
    }
  }

  /** A driver reported {@code count} unsignaled sends of {@code queue} as finished without a completion. */
  public void finishedUnsignaled(Object queue, int count) {
    Queue q = queues.get(queue);
    if (q != null) {
      q.finishedUnsignaled.addAndGet(count);
    }
  }

  /** The queue was reset (modify to RESET): what was outstanding is discarded without completions. */
  public void reset(Object queue) {
    Queue q = queues.get(queue);
    if (q != null) {
      discardedByReset.add(q.outstanding());
      q.signaled.clear();
      q.unsignaled.clear();
      q.finishedUnsignaled.set(0);
    }
  }

  /**
   * The queue's QP was torn down; {@code flushExpected} if it was in the error state (or was moved there to
   * be reclaimed), so that the driver had to flush everything outstanding before it stopped.
   */
  public void tornDown(Object queue, boolean flushExpected) {
    Queue q = queues.get(queue);
    if (q == null) {
      return;
    }
    q.flushExpected = flushExpected;
    q.tornDown = true;
    if (!flushExpected) {
      discardedByDestroy.add(q.outstanding());
    }
  }

  /**
   * The requests that were never completed: outstanding on queues torn down after their QP entered the error
   * state. Evaluated once the drivers have stopped (at the end of a test); each is one violation.
   */
  List<Violation> neverCompleted() {
    List<Violation> out = new ArrayList<>();
    for (Queue q : queues.values()) {
      if (q.tornDown && q.flushExpected && q.outstanding() > 0) {
        List<String> ids = new ArrayList<>();
        for (Object w : q.signaled) {
          ids.add(String.valueOf(wrId(w)));
        }
        for (Object w : q.unsignaled) {
          ids.add(wrId(w) + " (unsignaled)");
        }
        out.add(Violation.now(Check.NOT_EXACTLY_ONCE, Rule.EXACTLY_ONCE, q.outstanding() + " work request(s) on "
            + q.name + " never completed: the QP was in the error state when it was torn down, so each had to "
            + "be flushed (wr_ids " + ids + ")", q.name, q.owner));
      }
    }
    return out;
  }

  private static Object wrId(Object wqe) {
    if (wqe instanceof dev.midlayer.spi.SendWqe s) {
      return s.wrId();
    }
    if (wqe instanceof dev.midlayer.spi.RecvWqe r) {
      return r.wrId();
    }
    return wqe;
  }

  @Override
  public String toString() {
    return "ledger: " + accepted() + " accepted, " + completed() + " completed (" + flushed() + " flushed), "
        + outstanding() + " outstanding, " + discardedByReset() + " discarded by RESET, " + discardedByDestroy()
        + " discarded by destroy";
  }
}
