package dev.midlayer.device;

import dev.midlayer.ib.MidlayerException;
import dev.midlayer.spi.DriverOp;

/**
 * A driver op threw; the message names the op and the device, the cause is what the driver threw. Immutable
 * once thrown; the constructor never blocks and may be called from any thread.
 */
public final class DriverOpFailedException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** The error for {@code op} on device {@code deviceName}, which threw {@code cause}. */
  public DriverOpFailedException(DriverOp op, String deviceName, Throwable cause) {
    super(op.kernelName() + " failed on device " + deviceName + ": " + cause, cause);
  }
}
