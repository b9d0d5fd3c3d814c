package dev.midlayer.drivers.engine;

import dev.midlayer.ib.Gid;

/**
 * The global route header a packet travelled with (IBA 8.3): the source and destination GIDs, traffic class,
 * flow label and hop limit. UD receives present it in the first 40 bytes of the receive buffer.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public record Grh(Gid sgid, Gid dgid, int trafficClass, int flowLabel, int hopLimit) {
  /** Size of a GRH on the wire and in a UD receive buffer. */
  public static final int BYTES = 40;

  /** The header as a UD receive sees it: version 6, class, flow label, payload length, next header 0x1B. */
  public byte[] toBytes(int payloadLength) {
    byte[] g = new byte[BYTES];
    g[0] = (byte) (0x60 | ((trafficClass >> 4) & 0xf));
    g[1] = (byte) (((trafficClass & 0xf) << 4) | ((flowLabel >> 16) & 0xf));
    g[2] = (byte) (flowLabel >> 8);
    g[3] = (byte) flowLabel;
    g[4] = (byte) (payloadLength >> 8);
    g[5] = (byte) payloadLength;
    g[6] = 0x1B;
    g[7] = (byte) hopLimit;
    putLong(g, 8, sgid.subnetPrefix());
    putLong(g, 16, sgid.interfaceId());
    putLong(g, 24, dgid.subnetPrefix());
    putLong(g, 32, dgid.interfaceId());
    return g;
  }

  private static void putLong(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (56 - 8 * i));
    }
  }
}
