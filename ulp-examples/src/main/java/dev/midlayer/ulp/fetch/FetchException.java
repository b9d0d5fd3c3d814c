package dev.midlayer.ulp.fetch;

/**
 * A fetch failed: the target refused the range, or a work request completed with an error.
 *
 * <p>Threading: an exception value; its constructors never block and may be called from any thread.
 */
public final class FetchException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** With a message naming what failed. */
  public FetchException(String message) {
    super(message);
  }

  /** With a message naming what failed, and its cause. */
  public FetchException(String message, Throwable cause) {
    super(message, cause);
  }
}
