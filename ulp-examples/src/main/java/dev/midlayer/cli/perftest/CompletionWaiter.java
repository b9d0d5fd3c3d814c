package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * What one polling thread does when a poll round found nothing: busy polling with back-off
 * ({@link Thread#onSpinWait} for {@link #SPINS} rounds, then {@link Thread#yield}), or, with
 * {@code -e}, the event-driven wait of perftest: arm every CQ the thread polls with
 * {@code requestNotify(NEXT_COMP, true)}, poll again at once if that reports missed completions, and
 * otherwise park until a CQ's completion handler (this object) signals.
 *
 * <p>No wakeup is lost: the handler sets {@link #signaled} before it unparks the owner, and the owner
 * checks the flag before each park (an unpark that comes first makes the next park return at once).
 * A handler that fires for a CQ armed in an earlier round only causes one extra poll round.
 *
 * <p>Threading: {@link #idle} and {@link #progressed} are for the owning thread only;
 * {@link #onCompletion} runs on the CQ actors.
 */
final class CompletionWaiter implements CompletionHandler {
  /**
   * Spin rounds before the back-off yields the core (2 cores: pollers and actors must share). System
   * property {@code perftest.spins} overrides it, for experiments.
   */
  static final int SPINS = Integer.getInteger("perftest.spins", 300);
  /** {@link Thread#onSpinWait} calls per empty poll round while spinning ({@code perftest.pauses}). */
  static final int PAUSES = Integer.getInteger("perftest.pauses", 1);
  /** A run that sees no completion for this long has stalled (a lost completion): it is aborted. */
  static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final boolean events;
  private final AtomicBoolean signaled = new AtomicBoolean();
  private volatile Thread owner;
  private int spins;
  private long idleSince;
  private long wakeups;

  CompletionWaiter(boolean events) {
    this.events = events;
  }

  /** True if this waiter parks on completion events instead of spinning. */
  boolean events() {
    return events;
  }

  /** The handler to create the CQs with: this waiter in event mode, none when busy polling. */
  CompletionHandler handler() {
    return events ? this : null;
  }

  /** Binds the waiter to the calling thread (the one that will poll, and park in event mode). */
  void bind() {
    owner = Thread.currentThread();
  }

  /** How many times the owner was woken by a completion handler (event mode). */
  long wakeups() {
    return wakeups;
  }

  /** Called by CQ actors in atomic context: only a flag and an unpark, never a block. */
  @Override
  public void onCompletion(CompletionQueue cq) {
    signaled.set(true);
    Thread t = owner;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /** The last poll round took completions: the back-off starts over. */
  void progressed() {
    spins = 0;
    idleSince = 0;
  }

  /**
   * The last poll round of {@code cqs} found nothing: back off (busy mode) or wait for a completion
   * event (event mode). Returns when the caller should poll again.
   *
   * @param what names the run in the stall error
   * @throws PerftestException after {@link #STALL_NANOS} without progress
   */
  void idle(String what, CompletionQueue... cqs) {
    if (!events) {
      if (++spins < SPINS) {
        for (int i = 0; i < PAUSES; i++) {
          Thread.onSpinWait();
        }
        return;
      }
      Thread.yield();
      checkStall(what);
      return;
    }
    boolean missed = false;
    for (CompletionQueue cq : cqs) {
      // Arm every CQ (no short-circuit): each must wake us.
      missed |= cq.requestNotify(CqNotify.NEXT_COMP, true);
    }
    if (missed) {
      return;
    }
    while (!signaled.getAndSet(false)) {
      LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(100));
      if (!signaled.get()) {
        checkStall(what);
      }
    }
    wakeups++;
  }

  private void checkStall(String what) {
    long now = System.nanoTime();
    if (idleSince == 0) {
      idleSince = now;
    } else if (now - idleSince > STALL_NANOS) {
      throw new PerftestException(what + ": no completion for " + TimeUnit.NANOSECONDS.toSeconds(STALL_NANOS)
          + " s; the run stalled (a completion was lost or never produced)");
    }
  }
}
