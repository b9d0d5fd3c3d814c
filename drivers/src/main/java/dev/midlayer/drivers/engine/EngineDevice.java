package dev.midlayer.drivers.engine;

import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;

/**
 * What the engine asks of the device its QPs are on: the state and addresses of its ports, as the driver sees
 * them (not the midlayer's cache: the driver's view changes first, as a NIC's link does).
 *
 * <p>Threading: every method is safe from any thread and never blocks.
 */
public interface EngineDevice {
  /** The port's current state; DOWN for a port number that does not exist. */
  PortState portState(int portNum);

  /** The GID at index 0 of a port (the source GID of the packets it sends). */
  Gid gid(int portNum);

  /** The LID of a port (0 on a RoCE-like port, which has none). */
  int lid(int portNum);
}
