package dev.midlayer.internal.verbs;

import dev.midlayer.spi.WorkQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jctools.queues.MpscArrayQueue;

/**
 * Internal API. A send or receive queue of a QP: a bounded lock-free ring (JCTools {@code MpscArrayQueue}) that any
 * number of threads post into and the driver's one consumer takes from, with the occupancy count that
 * makes a full queue an immediate error, and the doorbell: the driver is told only when the queue goes
 * from idle to busy, so a burst of posts costs one message, like a NIC doorbell.
 *
 * <p>A work request occupies its slot from post until the driver {@linkplain #retire retires} it (when
 * its completion is produced, or when it was unsignaled and finished), not just until the driver takes
 * it: that is what {@code max_send_wr} bounds.
 *
 * <p>Threading: {@link #post} is lock-free and callable from any thread. {@link #take}, {@link #retire}
 * and {@link #idle} are for the driver's single consumer (one thread at a time).
 *
 * @param <T> the work request type
 */
public final class WorkQueueImpl<T> implements WorkQueue<T> {
  private final MpscArrayQueue<T> ring;
  private final int capacity;
  private final AtomicInteger outstanding = new AtomicInteger();
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

  /** Work requests posted and not retired yet. */
  public int outstanding() {
    return outstanding.get();
  }

  /**
   * Adds a work request. Returns false, changing nothing, if {@link #capacity()} requests are outstanding.
   * Lock-free; any thread.
   *
   * @return whether it was added; check {@link #ringDoorbell()} afterwards
   */
  public boolean post(T wr) {
    if (outstanding.getAndIncrement() >= capacity) {
      outstanding.decrementAndGet();
      return false;
    }
    // Cannot fail: the ring holds at least `capacity` and no more are outstanding.
    ring.offer(wr);
    return true;
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

  /** Frees {@code n} slots of finished work requests. Consumer only. */
  public void retire(int n) {
    outstanding.addAndGet(-n);
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

  /** Drops every waiting work request without completing it and frees their slots (modify to RESET). Consumer only. */
  public int clear() {
    int n = 0;
    while (ring.relaxedPoll() != null) {
      n++;
    }
    return n;
  }
}
