package dev.midlayer.cq;

import dev.midlayer.ib.MidlayerException;

/**
 * A completion could not be added because its CQ overflowed (or was destroyed): what an operation that
 * waits for a completion of its own (a drain's marker) fails with, instead of waiting forever. The message
 * names the CQ and the operation.
 *
 * <p>Threading: immutable once thrown; the constructor never blocks and may be called from any thread.
 */
public final class CqOverflowException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** An overflow error with {@code message}, which names the CQ and the operation. */
  public CqOverflowException(String message) {
    super(message);
  }
}
