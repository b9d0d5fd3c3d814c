package dev.midlayer.internal.verbs;

import dev.midlayer.spi.WorkQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jctools.queues.MpscArrayQueue;
import org.jctools.util.PaddedAtomicLong;

/**
 * Internal API. A send or receive queue of a QP: a bounded lock-free ring (JCTools {@code MpscArrayQueue})
 * that any number of threads post into and the driver's one consumer takes from, the occupancy that makes a
 * full queue an immediate error, and the doorbell: the driver is told only when the queue goes from idle to
 * busy, so a burst of posts costs one message, like a NIC doorbell.
 *
 * <p>A work request occupies its slot from its post until its completion was polled (or, for an unsignaled
 * success, until it finished), as on hardware: that is what {@code max_send_wr} bounds, and why a CQ with as
 * many entries as the queues that feed it never overflows. The occupancy and the queue's epoch are one
 * {@code long}, so a reset (which frees every slot at once) and a late release of a completion from before
 * it never mix: a release names its epoch and is ignored in another one.
 *
 * <p>Threading: {@link #post} and {@link #release} are lock-free and callable from any thread. {@link #take},
 * {@link #idle}, {@link #finished} and {@link #reset} are for the driver's single consumer.
 *
 * @param <T> the work request type
 */
public final class WorkQueueImpl<T> implements WorkQueue<T>, SlotOwner {
  private final MpscArrayQueue<T> ring;
  private final int capacity;
  /**
   * The epoch in the high 32 bits, the slots occupied in the low 32. Padded to a cache line of its own: the
   * posters and the pollers update it, and the driver reads this object's other fields for every WR.
   */
  private final PaddedAtomicLong state = new PaddedAtomicLong();
  /**
   * The epoch again, apart from {@link #state}: the driver reads it for every completion it makes, and a read
   * of {@code state} there would pull the posters' counter line to the driver's core each time. Written only
   * by {@link #reset} (the driver's consumer).
   */
  private volatile int epoch;
  /** True while the consumer is not scheduled: the next post must ring the doorbell. */
  private final AtomicBoolean idle = new AtomicBoolean(true);

  public WorkQueueImpl(int capacity) {
    this.capacity = capacity;
    this.ring = new MpscArrayQueue<>(Math.max(2, capacity));
  }

  /** The most work requests that may be outstanding. */
  @Override
  public int capacity() {
    return capacity;
  }

  /** Slots occupied: work requests posted whose completion was not polled yet. */
  public int outstanding() {
    return (int) state.get();
  }

  /** The current epoch (bumped by each reset). */
  int epoch() {
    return epoch;
  }

  /**
   * Adds a work request. Returns false, changing nothing, if {@link #capacity()} slots are occupied: never
   * spuriously (the admission is one compare-and-set on the exact count). Lock-free; any thread.
   *
   * @return whether it was added; check {@link #ringDoorbell()} afterwards
   */
  public boolean post(T wr) {
    long s;
    do {
      s = state.get();
      if ((int) s >= capacity) {
        return false;
      }
    } while (!state.compareAndSet(s, s + 1));
    if (!ring.offer(wr)) {
      // Only after a reset raced with this post (a consumer posting while it resets the QP): refuse, never lose it.
      release((int) (s >>> 32), 1);
      return false;
    }
    return true;
  }

  @Override
  public void release(int ofEpoch, int slots) {
    for (long s = state.get(); (int) (s >>> 32) == ofEpoch; s = state.get()) {
      int left = Math.max(0, (int) s - slots);
      if (state.compareAndSet(s, ((long) ofEpoch << 32) | left)) {
        return;
      }
    }
  }

  /**
   * True exactly once per idle-to-busy transition: the caller must then wake the consumer (one message).
   * Lock-free; any thread.
   */
  public boolean ringDoorbell() {
    return idle.get() && idle.compareAndSet(true, false);
  }

  /** The next work request, or null. Consumer only. */
  @Override
  public T take() {
    return ring.poll();
  }

  /** True if no work request is waiting to be taken. Any thread. */
  @Override
  public boolean isEmpty() {
    return ring.isEmpty();
  }

  /** {@code n} work requests finished without completions (unsignaled successes): their slots are free now. Consumer only. */
  void finished(int n) {
    if (n > 0) {
      release(epoch(), n);
    }
  }

  /**
   * The consumer found the queue empty and goes idle. Returns true if work arrived meanwhile and the
   * consumer took the doorbell back: it must then go on instead of waiting for a message. Consumer only.
   */
  @Override
  public boolean idle() {
    idle.set(true);
    return !ring.isEmpty() && idle.compareAndSet(true, false);
  }

  /**
   * Modify to RESET: drops every waiting work request without completing it and frees every slot, those of
   * completions still in a CQ included (a new epoch). Consumer only.
   */
  void reset() {
    while (ring.relaxedPoll() != null) {
      // dropped
    }
    for (long s = state.get(); ; s = state.get()) {
      long next = ((s >>> 32) + 1) << 32;
      if (state.compareAndSet(s, next)) {
        epoch = (int) (next >>> 32);
        return;
      }
    }
  }
}
