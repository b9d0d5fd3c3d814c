package dev.midlayer.registry;

import dev.midlayer.ib.MidlayerException;

/**
 * Unregistration refused: the device, client or handler is not registered (never was, or already gone).
 * Immutable once thrown; the constructor never blocks and may be called from any thread.
 */
public final class NotRegisteredException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The error with {@code message}, which names what is not registered. */
  public NotRegisteredException(String message) {
    super(message);
  }
}
