package dev.midlayer.drivers.cluster;

import dev.midlayer.ib.Gid;

/**
 * How a cluster port's GID is made: a bijection of (node incarnation uid, device number, port number), so GIDs
 * are unique across the cluster as long as the members' uids are (Pekko draws a random 64-bit uid for every
 * incarnation of an actor system and refuses a second member with the same address and uid), and stable for
 * the incarnation. The GID is an IPv6 unique local address (RFC 4193, {@code fd00::/8}), as a RoCE v2 GID is
 * an IP address:
 *
 * <pre>
 * subnet prefix  = 0xfd                 | uid bits 63..8   (8 + 56 bits)
 * interface id   = uid bits 7..0 &lt;&lt; 56  | device &lt;&lt; 8 | port   (8 + 48 + 8 bits)
 * </pre>
 *
 * Pure functions; any thread, never blocks.
 */
final class ClusterGids {
  private ClusterGids() {}

  /** The top byte of every cluster GID's subnet prefix: a unique local IPv6 address. */
  static final long ULA = 0xfdL << 56;

  /** Largest device number a GID holds (48 bits). */
  static final long MAX_DEVICE = (1L << 48) - 1;

  static Gid gid(long uid, long device, int port) {
    if (device < 0 || device > MAX_DEVICE || port < 1 || port > 255) {
      throw new IllegalArgumentException("device " + device + " port " + port + " out of range");
    }
    return new Gid(ULA | (uid >>> 8), (uid & 0xff) << 56 | device << 8 | port);
  }

  /** The uid of the node incarnation whose port has GID {@code g}. */
  static long uid(Gid g) {
    return (g.subnetPrefix() << 8) | (g.interfaceId() >>> 56);
  }

  /** The device number of GID {@code g}. */
  static long device(Gid g) {
    return (g.interfaceId() >>> 8) & MAX_DEVICE;
  }

  /** The port number of GID {@code g}. */
  static int port(Gid g) {
    return (int) (g.interfaceId() & 0xff);
  }

  /** True if {@code g} has the cluster driver's form. */
  static boolean isClusterGid(Gid g) {
    return (g.subnetPrefix() & (0xffL << 56)) == ULA;
  }
}
