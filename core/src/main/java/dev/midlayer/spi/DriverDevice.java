package dev.midlayer.spi;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.PortAttributes;
import java.util.Collection;

/**
 * What the midlayer gives a driver for one of its registered devices (the driver's view of
 * {@code struct ib_device}): its name and cached attributes, {@code ib_dispatch_event}, the device's memory
 * keys, and its live QPs by number. Handed to {@link DeviceOps.EnableDriver}, {@link DeviceOps.DeallocDriver}
 * and, through {@link QpContext#device()}, to every QP.
 *
 * <p>Threading: every method <b>never blocks and may be called from any thread and any context</b>, driver
 * actors included.
 */
public interface DriverDevice {
  /** The device's name, e.g. {@code lo0}. */
  String name();

  /** The attributes read from {@code query_device} at registration. */
  DeviceAttributes attributes();

  /** The cached attributes of port {@code portNum} (1..physPortCount), refreshed before port events are delivered. */
  PortAttributes cachedPort(int portNum);

  /**
   * Dispatches an unaffiliated port event ({@code ib_dispatch_event}): PORT_ACTIVE, PORT_ERR, LID_CHANGE,
   * PKEY_CHANGE, SM_CHANGE, CLIENT_REREGISTER or GID_CHANGE on {@code portNum}. Only enqueues: the
   * consumers' event handlers run later, on the midlayer's callback dispatcher, in dispatch order.
   * <b>Never blocks; any thread and any context.</b>
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the type is not a port event or the port does not exist
   * @throws IllegalStateException if the device's unregistration completed
   */
  void dispatchPortEvent(AsyncEventType type, int portNum);

  /**
   * Dispatches an unaffiliated device event ({@code DEVICE_FATAL}). As {@link #dispatchPortEvent}.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the type is not a device event
   */
  void dispatchDeviceEvent(AsyncEventType type);

  /** The device's memory keys, for resolving the keys of work requests. */
  MemoryKeys memory();

  /** The live QP numbered {@code qpNum} on this device, or null: how a driver finds a peer. Lock-free. */
  QpContext qp(int qpNum);

  /** The live QPs of the device (a weakly consistent view). Lock-free. */
  Collection<QpContext> qps();
}
