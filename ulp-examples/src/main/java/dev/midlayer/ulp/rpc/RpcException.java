package dev.midlayer.ulp.rpc;

/**
 * A call or a set-up failed; the message says what and where.
 *
 * <p>Threading: an exception value; its constructors never block and may be called from any thread.
 */
public final class RpcException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** With a message naming what failed. */
  public RpcException(String message) {
    super(message);
  }

  /** With a message naming what failed, and its cause. */
  public RpcException(String message, Throwable cause) {
    super(message, cause);
  }
}
