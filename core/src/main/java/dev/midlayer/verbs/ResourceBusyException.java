package dev.midlayer.verbs;

import dev.midlayer.ib.MidlayerException;

/**
 * An object cannot be destroyed while others use it (the kernel's {@code -EBUSY}); the message says which.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class ResourceBusyException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The exception with {@code message}, which names the object and what still uses it. */
  public ResourceBusyException(String message) {
    super(message);
  }
}
