package dev.midlayer.testsupport;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.spi.DeviceOps;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small low-level driver for core's own tests: a device with some ports whose link state the test
 * changes, raising PORT_ACTIVE / PORT_ERR through the midlayer like a real driver would.
 */
public final class TestDriver {
  private final int ports;
  private final AtomicReferenceArray<PortState> portState;
  private final AtomicReference<Device> device = new AtomicReference<>();
  private final AtomicInteger queryPortCalls = new AtomicInteger();
  private final AtomicInteger deallocCalls = new AtomicInteger();
  private final long guid;

  private static final AtomicInteger GUIDS = new AtomicInteger(1);

  public TestDriver(int ports) {
    this.ports = ports;
    this.portState = new AtomicReferenceArray<>(ports);
    for (int i = 0; i < ports; i++) {
      portState.set(i, PortState.ACTIVE);
    }
    this.guid = 0x0002_c903_0000_0000L | GUIDS.getAndIncrement();
  }

  public TestDriver() {
    this(1);
  }

  /** The ops table with every op set. */
  public DeviceOps ops() {
    return builder().build();
  }

  /** A builder with every op set, for tests that remove or replace one. */
  public DeviceOps.Builder builder() {
    return DeviceOps.builder("testdrv")
        .queryDevice(this::queryDevice)
        .queryPort(this::queryPort)
        .enableDriver(dd -> device.set(Internal.handleOf(dd)))
        .deallocDriver(d -> deallocCalls.incrementAndGet());
  }

  public DeviceAttributes queryDevice() {
    return DeviceAttributes.builder().physPortCount(ports).nodeGuid(guid).firmwareVersion("1.0.0").build();
  }

  public PortAttributes queryPort(int portNum) {
    queryPortCalls.incrementAndGet();
    return PortAttributes.builder()
        .state(portState.get(portNum - 1))
        .lid(portNum)
        .gids(List.of(Gid.linkLocal(guid + portNum)))
        .build();
  }

  /** Changes the link state of a port and dispatches the matching event, as a driver's link interrupt would. */
  public void setLink(int portNum, boolean up) {
    portState.set(portNum - 1, up ? PortState.ACTIVE : PortState.DOWN);
    Device d = device.get();
    Internal.dispatch(d, AsyncEvent.ofPort(d, up ? AsyncEventType.PORT_ACTIVE : AsyncEventType.PORT_ERR, portNum));
  }

  /** The device handle given to enable_driver, or null before. */
  public Device device() {
    return device.get();
  }

  public int queryPortCalls() {
    return queryPortCalls.get();
  }

  public int deallocCalls() {
    return deallocCalls.get();
  }
}
