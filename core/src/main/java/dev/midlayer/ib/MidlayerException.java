package dev.midlayer.ib;

/**
 * Base class of every error the midlayer reports. Each subclass names one kind of failure, and its
 * message names the object, field or limit involved, so a caller can tell what was wrong without
 * reading midlayer code. Exceptions are immutable once thrown and safe to pass between threads; their
 * constructors and getters never block and may be called from any thread.
 */
public class MidlayerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** An error with {@code message} and a stack trace. */
  public MidlayerException(String message) {
    super(message);
  }

  /** An error with {@code message}, caused by {@code cause}. */
  public MidlayerException(String message, Throwable cause) {
    super(message, cause);
  }

  /** For errors that are results on the data path: no stack trace is captured (it costs microseconds). */
  protected MidlayerException(String message, boolean withStackTrace) {
    super(message, null, false, withStackTrace);
  }
}
