package dev.midlayer.spi;

import dev.midlayer.ib.MidlayerException;

/**
 * A driver op called a may-sleep verb of its own device. A device's ops ({@code enable_driver},
 * {@code create_qp}, {@code query_port}, the memory fence, ...) run on that device's actor, and so do its
 * may-sleep verbs: the verb could only run after the op returned, so an op that waited for it would wait for
 * itself forever. The midlayer refuses the call at once instead. The message names the verb, the device and
 * the op. What driver ops may call: the non-sleeping verbs, {@link DriverDevice#dispatchPortEvent}, and
 * may-sleep verbs of other devices (without waiting for them, since those may need this device too).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class DriverSelfWaitException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /**
   * The refusal of {@code verb} on device {@code deviceName}, called from inside the driver op
   * {@code runningOp}.
   */
  public DriverSelfWaitException(String verb, String deviceName, String runningOp) {
    super(verb + " on device " + deviceName + " was called from inside " + runningOp + " of that device: the "
        + "device's ops and may-sleep verbs run on its one actor, so waiting for it would wait forever; call it "
        + "after the op returned");
  }
}
