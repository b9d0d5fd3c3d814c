package dev.midlayer.registry;

import dev.midlayer.ib.MidlayerException;

/** Unregistration refused: the device, client or handler is not registered (never was, or already gone). */
public final class NotRegisteredException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public NotRegisteredException(String message) {
    super(message);
  }
}
