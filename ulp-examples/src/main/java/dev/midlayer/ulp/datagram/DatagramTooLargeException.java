package dev.midlayer.ulp.datagram;

/**
 * A datagram longer than the path MTU: UD does not segment, so it cannot be sent. Nothing was posted.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class DatagramTooLargeException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final int size;
  private final int maxPayload;

  /** A message of {@code size} bytes, over the limit {@code maxPayload} of {@code where}. */
  public DatagramTooLargeException(int size, int maxPayload, String where) {
    super("a datagram of " + size + " bytes exceeds the path MTU of " + where + ": at most " + maxPayload
        + " bytes per UD message");
    this.size = size;
    this.maxPayload = maxPayload;
  }

  /** The size refused. */
  public int size() {
    return size;
  }

  /** The largest datagram the endpoint sends: its port's active MTU. */
  public int maxPayload() {
    return maxPayload;
  }
}
