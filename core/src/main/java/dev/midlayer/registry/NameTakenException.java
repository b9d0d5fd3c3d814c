package dev.midlayer.registry;

import dev.midlayer.ib.MidlayerException;

/** Registration refused: a device or client with that name is already registered. */
public final class NameTakenException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public NameTakenException(String what, String name) {
    super(what + " name '" + name + "' is already taken");
  }
}
