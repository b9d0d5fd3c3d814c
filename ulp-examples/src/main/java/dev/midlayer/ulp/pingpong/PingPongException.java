package dev.midlayer.ulp.pingpong;

/**
 * A pingpong set-up or session failed; the message says what and where.
 *
 * <p>Threading: an exception value; its constructors never block and may be called from any thread.
 */
public final class PingPongException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** With a message naming what failed. */
  public PingPongException(String message) {
    super(message);
  }

  /** With a message naming what failed, and its cause. */
  public PingPongException(String message, Throwable cause) {
    super(message, cause);
  }
}
