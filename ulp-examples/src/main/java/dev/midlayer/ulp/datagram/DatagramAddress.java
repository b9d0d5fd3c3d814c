package dev.midlayer.ulp.datagram;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;

/**
 * Where a datagram endpoint is: its port's GID and LID (0 on ports without LIDs, such as the cluster driver's)
 * and its UD QP number. Endpoints exchange these out of band, as IPoIB's hardware address (QPN + GID) is.
 *
 * @param gid the port's GID (index 0)
 * @param lid the port's LID, or 0
 * @param qpn the endpoint's UD QP number
 */
public record DatagramAddress(Gid gid, int lid, int qpn) {
  /** The path to this address from local port {@code port}: by LID where there is one, else by GID. */
  AhAttr path(int port) {
    return lid != 0 ? AhAttr.ofLid(port, lid) : AhAttr.ofGid(port, gid);
  }

  /** What address handles are cached by: the path, not the QP (peers behind one port share one AH). */
  PathKey pathKey() {
    return lid != 0 ? new PathKey(null, lid) : new PathKey(gid, 0);
  }

  /** An address handle's cache key. */
  record PathKey(Gid gid, int lid) {}

  @Override
  public String toString() {
    return (lid != 0 ? "lid 0x" + Integer.toHexString(lid) : gid.toString()) + " qpn 0x" + Integer.toHexString(qpn);
  }
}
