package dev.midlayer.testsupport;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.internal.cq.CqImpl;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DriverDeviceImpl;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.internal.verbs.FastRegMr;
import dev.midlayer.internal.verbs.KeyTable;
import dev.midlayer.internal.verbs.PageImpl;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.ProtectionDomain;
import java.nio.ByteBuffer;
import dev.midlayer.verbs.WorkCompletion;

/**
 * What core's own tests reach behind the consumer API: the driver's side of a CQ (pushing completions, as
 * the tests play the driver's data path), dispatching an event object as a driver would (so that handlers
 * can be checked to see that very object), and a device's key table.
 */
public final class Internal {
  private Internal() {}

  /** Adds a completion to {@code cq} as a driver does; false if it did not fit. */
  public static boolean push(CompletionQueue cq, WorkCompletion wc, boolean solicited) {
    return ((CqImpl) cq).push(wc, solicited);
  }

  /** Dispatches {@code event} on {@code device} ({@code ib_dispatch_event}), as its driver would. */
  public static void dispatch(Device device, AsyncEvent event) {
    DeviceImpl.of(device).dispatchEvent(event);
  }

  /** The device's memory keys. */
  public static KeyTable keys(Device device) {
    return DeviceImpl.of(device).verbs().keys();
  }

  /** The CQ's implementation (use counts, description). */
  public static CqImpl impl(CompletionQueue cq) {
    return (CqImpl) cq;
  }

  /** How the midlayer names an object in its leftover reports. */
  public static String describe(Object resource) {
    return ((DeviceResource) resource).describe();
  }

  /** The bytes of a page (shared with its region). */
  public static ByteBuffer bytes(Page page) {
    return ((PageImpl) page).bytes();
  }

  /**
   * A driver's REG_MR step on a fast-registration region (with its staged page list), on a QP of
   * {@code qpPd}: null on success, else why it was refused.
   */
  public static String fastRegister(MemoryRegion mr, int key, int access, ProtectionDomain qpPd) {
    FastRegMr fr = (FastRegMr) mr;
    MemoryOpResult r = fr.fastRegister(fr.staged(), key, access, qpPd.handle());
    return r instanceof MemoryOpResult.Refused refused ? refused.detail() : null;
  }

  /** The consumer's handle of the device a driver was given in enable_driver. */
  public static Device handleOf(DriverDevice driverDevice) {
    return ((DriverDeviceImpl) driverDevice).device();
  }
}
