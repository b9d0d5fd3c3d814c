package dev.midlayer.ulp.fetch;

/** A fetch failed: the target refused the range, or a work request completed with an error. */
public final class FetchException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public FetchException(String message) {
    super(message);
  }

  public FetchException(String message, Throwable cause) {
    super(message, cause);
  }
}
