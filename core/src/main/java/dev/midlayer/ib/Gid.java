package dev.midlayer.ib;

/**
 * A 128-bit global identifier: 64-bit subnet prefix and 64-bit interface id, as in a GRH.
 * Immutable; every method never blocks and may be called from any thread.
 */
public record Gid(long subnetPrefix, long interfaceId) {
  /** The default IB subnet prefix {@code fe80::/64}. */
  public static final long DEFAULT_SUBNET_PREFIX = 0xfe80_0000_0000_0000L;

  /** A GID in the default link-local subnet with the given interface id. */
  public static Gid linkLocal(long interfaceId) {
    return new Gid(DEFAULT_SUBNET_PREFIX, interfaceId);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      long word = i < 4 ? subnetPrefix : interfaceId;
      int shift = 48 - 16 * (i % 4);
      if (i > 0) {
        sb.append(':');
      }
      sb.append(String.format("%04x", (word >>> shift) & 0xffff));
    }
    return sb.toString();
  }
}
