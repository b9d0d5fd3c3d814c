package dev.midlayer.drivers.loopback;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.ib.PortState;

/**
 * A QP on the loopback fabric as a sender's link resolved it: the QP's engine, the port it is reached on, and
 * the port the sender sends from. {@link #back()} is the way answers come back (null for an answer's own
 * endpoint: answers are not answered).
 *
 * <p>Immutable (the back endpoint is made with it); any thread.
 */
final class LoopbackEndpoint implements Endpoint {
  private final EngineQp target;
  private final LoopbackDevice device;
  private final int port;
  private final LoopbackDevice fromDevice;
  private final int fromPort;
  private final Direction direction;
  private final LoopbackEndpoint back;

  /** The endpoint of {@code target} on {@code device} port {@code port}, sent to from {@code fromDevice}. */
  LoopbackEndpoint(EngineQp target, LoopbackDevice device, int port, EngineQp from, LoopbackDevice fromDevice,
      int fromPort) {
    this.target = target;
    this.device = device;
    this.port = port;
    this.fromDevice = fromDevice;
    this.fromPort = fromPort;
    this.direction = new Direction(fromDevice.gid(fromPort), device.gid(port));
    this.back = new LoopbackEndpoint(from, fromDevice, fromPort, device, port, direction.reverse());
  }

  private LoopbackEndpoint(EngineQp target, LoopbackDevice device, int port, LoopbackDevice fromDevice,
      int fromPort, Direction direction) {
    this.target = target;
    this.device = device;
    this.port = port;
    this.fromDevice = fromDevice;
    this.fromPort = fromPort;
    this.direction = direction;
    this.back = null;
  }

  EngineQp target() {
    return target;
  }

  LoopbackEndpoint back() {
    return back;
  }

  @Override
  public boolean up() {
    return fromDevice.portState(fromPort) == PortState.ACTIVE && device.portState(port) == PortState.ACTIVE;
  }

  @Override
  public Direction direction() {
    return direction;
  }
}
