package dev.midlayer.cm;

import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import org.apache.pekko.actor.Address;

/**
 * Where {@link ConnectionManager#connect} and {@link ConnectionManager#resolveUd} go: a port GID, or a node
 * (the Pekko {@link Address} of its actor system) with a device name and port, which the CM resolves to that
 * port's GID through what the CMs publish to each other. Immutable; the factories never block, any thread.
 */
public sealed interface CmDestination {
  /** The port whose GID table holds {@code gid}. */
  record ByGid(Gid gid) implements CmDestination {
    /** Checks {@code gid} is not null. */
    public ByGid {
      InvalidArgumentException.requireNonNull(gid, "gid");
    }
  }

  /** Port {@code port} of device {@code deviceName} of the midlayer in the actor system at {@code node}. */
  record ByNode(Address node, String deviceName, int port) implements CmDestination {
    /** Checks the node and device name are given and the port is 1 or more. */
    public ByNode {
      InvalidArgumentException.requireNonNull(node, "node");
      InvalidArgumentException.requireNonBlank(deviceName, "deviceName");
      if (port < 1) {
        throw new InvalidArgumentException("port", "ports are numbered from 1, was " + port);
      }
    }
  }

  /** A {@link ByGid} destination. */
  static CmDestination gid(Gid gid) {
    return new ByGid(gid);
  }

  /** A {@link ByNode} destination. */
  static CmDestination node(Address node, String deviceName, int port) {
    return new ByNode(node, deviceName, port);
  }
}
