package dev.midlayer.ulp.kv;

/**
 * A key-value operation or set-up failed; the message says what and where.
 *
 * <p>Threading: an exception value; its constructors never block and may be called from any thread.
 */
public final class KvException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** With a message naming what failed. */
  public KvException(String message) {
    super(message);
  }

  /** With a message naming what failed, and its cause. */
  public KvException(String message, Throwable cause) {
    super(message, cause);
  }
}
