package dev.midlayer.verbs;

import dev.midlayer.ib.MidlayerException;

/** An object cannot be destroyed while others use it (the kernel's {@code -EBUSY}); the message says which. */
public final class ResourceBusyException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public ResourceBusyException(String message) {
    super(message);
  }
}
