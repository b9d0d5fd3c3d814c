package dev.midlayer.internal.device;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.QpContext;
import java.util.Collection;

/**
 * Internal API. The driver's view of a device ({@link DriverDevice}): a thin handle over its
 * {@link DeviceImpl}, so that a driver never holds the consumer's object and a consumer never sees a
 * driver's verb.
 */
public final class DriverDeviceImpl implements DriverDevice {
  private final DeviceImpl device;

  DriverDeviceImpl(DeviceImpl device) {
    this.device = device;
  }

  /** The consumer's handle of the same device. */
  public DeviceImpl device() {
    return device;
  }

  @Override
  public String name() {
    return device.name();
  }

  @Override
  public DeviceAttributes attributes() {
    return device.attributes();
  }

  @Override
  public PortAttributes cachedPort(int portNum) {
    return device.cachedPort(portNum);
  }

  @Override
  public void dispatchPortEvent(AsyncEventType type, int portNum) {
    device.dispatchEvent(new AsyncEvent(device, type, new EventElement.OfPort(portNum)));
  }

  @Override
  public void dispatchDeviceEvent(AsyncEventType type) {
    device.dispatchEvent(new AsyncEvent(device, type, new EventElement.OfDevice()));
  }

  @Override
  public MemoryKeys memory() {
    return device.verbs().keys();
  }

  @Override
  public QpContext qp(int qpNum) {
    return device.verbs().qpContext(qpNum);
  }

  @Override
  public Collection<QpContext> qps() {
    return device.verbs().qpContexts();
  }

  @Override
  public String toString() {
    return "driver view of " + device;
  }
}
