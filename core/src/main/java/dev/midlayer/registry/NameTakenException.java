package dev.midlayer.registry;

import dev.midlayer.ib.MidlayerException;

/**
 * Registration refused: a device or client with that name is already registered. Immutable once thrown; the
 * constructor never blocks and may be called from any thread.
 */
public final class NameTakenException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The error for {@code name}, taken by another {@code what} (e.g. {@code "device"}). */
  public NameTakenException(String what, String name) {
    super(what + " name '" + name + "' is already taken");
  }
}
