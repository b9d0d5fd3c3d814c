package dev.midlayer.spi;

/**
 * A send or receive queue of a QP as its driver sees it: the consumer end of a bounded lock-free ring that
 * the midlayer fills from {@code postSend}/{@code postRecv}. The midlayer rings the driver's doorbell
 * ({@link DriverQp#sendDoorbell}) only when the queue goes from idle to busy; the driver takes everything
 * waiting and, when it finds the queue empty, calls {@link #idle()}.
 *
 * <p>Threading: every method is for the driver's single consumer (one thread at a time), except
 * {@link #isEmpty()} and {@link #capacity()}, which any thread may call. Every method never blocks.
 *
 * @param <T> {@link SendWqe} or {@link RecvWqe}
 */
public interface WorkQueue<T> {
  /** The next work request, or null. */
  T take();

  /** True if no work request is waiting to be taken. */
  boolean isEmpty();

  /**
   * The consumer found the queue empty and goes idle: the next post rings the doorbell again. Returns true
   * if work arrived meanwhile and the consumer took the doorbell back: it must then go on instead of
   * waiting for a message.
   */
  boolean idle();

  /** The most work requests that may be outstanding ({@code max_send_wr} or {@code max_recv_wr}). */
  int capacity();
}
