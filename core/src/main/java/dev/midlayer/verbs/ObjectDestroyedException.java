package dev.midlayer.verbs;

import dev.midlayer.ib.MidlayerException;

/** A verb was called on an object (PD, CQ, QP, SRQ, ...) that was destroyed; the message names it. */
public final class ObjectDestroyedException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public ObjectDestroyedException(String message) {
    super(message);
  }
}
