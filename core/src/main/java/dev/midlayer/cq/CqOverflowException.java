package dev.midlayer.cq;

import dev.midlayer.ib.MidlayerException;

/**
 * A completion could not be added because its CQ overflowed (or was destroyed): what an operation that
 * waits for a completion of its own (a drain's marker) fails with, instead of waiting forever. The message
 * names the CQ and the operation.
 */
public final class CqOverflowException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public CqOverflowException(String message) {
    super(message);
  }
}
