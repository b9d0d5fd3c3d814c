package dev.midlayer.device;

import dev.midlayer.ib.MidlayerException;

/** A verb was called on a device whose unregistration has completed. */
public final class DeviceUnregisteredException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  public DeviceUnregisteredException(String deviceName, String verb) {
    super(verb + ": device " + deviceName + " is unregistered");
  }
}
