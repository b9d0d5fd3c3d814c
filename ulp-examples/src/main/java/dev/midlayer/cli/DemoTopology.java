package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import java.util.List;

/**
 * Where {@code midlayer demo} runs: the server's device on one midlayer, the client's device (unplugged and
 * replaced during the run) on the same midlayer or another node's. Every method may sleep: the demo's thread.
 */
interface DemoTopology extends AutoCloseable {
  /** One line saying what runs where. */
  String describe();

  /** Every midlayer of the demo, the server's first. */
  List<Midlayer> midlayers();

  /** The server's midlayer. */
  default Midlayer serverSide() {
    return midlayers().get(0);
  }

  /** The client's midlayer. */
  default Midlayer clientSide() {
    return midlayers().get(midlayers().size() - 1);
  }

  /** The server's device. */
  Device serverDevice();

  /** The client's device now. */
  Device clientDevice();

  /** Unplugs the client's device (returns after every client's remove) and plugs in a new one; its name. */
  String replugClientDevice() throws Exception;

  /** Unregisters every device left. */
  void removeDevices() throws Exception;

  /** Stops what the topology started (actor systems of its own); the demo's midlayers are unusable after. */
  @Override
  void close() throws Exception;
}
