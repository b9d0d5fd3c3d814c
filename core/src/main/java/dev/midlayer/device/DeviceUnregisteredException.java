package dev.midlayer.device;

import dev.midlayer.ib.MidlayerException;

/**
 * A verb was called on a device whose unregistration has completed. Immutable once thrown; the constructor
 * never blocks and may be called from any thread.
 */
public final class DeviceUnregisteredException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The error for {@code verb}, called on the unregistered device {@code deviceName}. */
  public DeviceUnregisteredException(String deviceName, String verb) {
    super(verb + ": device " + deviceName + " is unregistered");
  }
}
