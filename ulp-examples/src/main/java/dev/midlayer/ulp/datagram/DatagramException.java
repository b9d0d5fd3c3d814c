package dev.midlayer.ulp.datagram;

/**
 * A datagram endpoint's set-up or tear-down failed; the message names the step.
 *
 * <p>Threading: an exception value; its constructor never blocks and may be called from any thread.
 */
public final class DatagramException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** With a message naming the step, and its cause. */
  public DatagramException(String message, Throwable cause) {
    super(message, cause);
  }
}
