package dev.midlayer.verbs;

import dev.midlayer.ib.MidlayerException;

/**
 * A verb was called on an object (PD, CQ, QP, SRQ, ...) that was destroyed; the message names it.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class ObjectDestroyedException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The exception with {@code message}, which names the object and the verb. */
  public ObjectDestroyedException(String message) {
    super(message);
  }
}
