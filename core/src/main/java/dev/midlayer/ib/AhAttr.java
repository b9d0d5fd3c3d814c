package dev.midlayer.ib;

import java.util.function.IntFunction;

/**
 * Address handle attributes ({@code struct rdma_ah_attr}): the path from a local port to a remote one.
 * Immutable; every method never blocks and may be called from any thread.
 *
 * @param portNum the local port, 1-based
 * @param dlid the destination LID (InfiniBand without GRH)
 * @param sl service level, 0..15
 * @param grh true if the path has a global route header (required on Ethernet ports)
 * @param dgid the destination GID (with GRH)
 * @param sgidIndex index into the local port's GID table (with GRH)
 * @param hopLimit GRH hop limit
 * @param trafficClass GRH traffic class
 */
public record AhAttr(int portNum, int dlid, int sl, boolean grh, Gid dgid, int sgidIndex, int hopLimit,
    int trafficClass) {

  /** A path to LID {@code dlid} from local port {@code portNum}, without GRH. */
  public static AhAttr ofLid(int portNum, int dlid) {
    return new AhAttr(portNum, dlid, 0, false, null, 0, 0, 0);
  }

  /** A path to GID {@code dgid} from local port {@code portNum}, with a GRH from GID index 0. */
  public static AhAttr ofGid(int portNum, Gid dgid) {
    return new AhAttr(portNum, 0, 0, true, dgid, 0, 64, 0);
  }

  /**
   * Checks the attributes against a device's ports; returns this. Never blocks; any thread.
   *
   * @param deviceName for the messages
   * @param portCount the device's ports are 1..portCount
   * @param ports the (cached) attributes of port n
   * @throws InvalidArgumentException naming the field that does not fit
   */
  public AhAttr validate(String deviceName, int portCount, IntFunction<PortAttributes> ports) {
    if (portNum < 1 || portNum > portCount) {
      throw new InvalidArgumentException("portNum", "port " + portNum + " does not exist on " + deviceName
          + " (ports are 1.." + portCount + ")");
    }
    if (sl < 0 || sl > 15) {
      throw new InvalidArgumentException("sl", "service level must be 0..15, was " + sl);
    }
    PortAttributes port = ports.apply(portNum);
    if (grh) {
      if (dgid == null) {
        throw new InvalidArgumentException("dgid", "an address with a GRH needs a destination GID");
      }
      if (sgidIndex < 0 || sgidIndex >= port.gids().size()) {
        throw new InvalidArgumentException("sgidIndex", "GID index " + sgidIndex + " is not in the GID table of "
            + deviceName + " port " + portNum + " (" + port.gids().size() + " entries)");
      }
      if (hopLimit < 0 || hopLimit > 255 || trafficClass < 0 || trafficClass > 255) {
        throw new InvalidArgumentException("hopLimit/trafficClass", "must be 0..255");
      }
    } else {
      if (port.linkLayer() == LinkLayer.ETHERNET) {
        throw new InvalidArgumentException("grh", "port " + portNum + " of " + deviceName
            + " is Ethernet: an address handle needs a GRH");
      }
      if (dlid <= 0 || dlid >= 0xc000) {
        throw new InvalidArgumentException("dlid", String.format(
            "0x%x is not a unicast LID (1..0xbfff); use a GRH to address by GID", dlid));
      }
    }
    return this;
  }
}
