package dev.midlayer.verbs;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.WcFlags;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The path back to the sender of a UD receive ({@code ib_init_ah_attr_from_wc} of Linux's {@code verbs.c}):
 * with a GRH ({@link WcFlags#GRH}), to the GRH's source GID, with the GRH's traffic class and hop limit 0xFF;
 * without one, to the completion's source LID. From port {@link WorkCompletion#portNum()}, GID index 0.
 */
public final class AhFromWc {
  /** The size of the GRH area at the start of a UD receive buffer. */
  public static final int GRH_BYTES = 40;

  private AhFromWc() {}

  /**
   * The attributes of an address handle back to the sender of {@code wc}, a successful UD receive whose buffer
   * starts at {@code grh} (absolute index {@code grhOffset} of {@code buffer}: the receive's first SGE).
   * <b>Never blocks; any thread and any context</b>, completion handlers included.
   *
   * @throws InvalidArgumentException if {@code wc} is not a successful receive, or its GRH area is not 40 bytes
   *     inside {@code buffer}
   */
  public static AhAttr attr(WorkCompletion wc, ByteBuffer buffer, int grhOffset) {
    InvalidArgumentException.requireNonNull(wc, "wc");
    if (!wc.ok()) {
      throw new InvalidArgumentException("wc", "a " + wc.status() + " completion has no sender");
    }
    if ((wc.wcFlags() & WcFlags.GRH) == 0) {
      return AhAttr.ofLid(wc.portNum(), wc.slid());
    }
    InvalidArgumentException.requireNonNull(buffer, "buffer");
    if (grhOffset < 0 || grhOffset > buffer.capacity() - GRH_BYTES) {
      throw new InvalidArgumentException("grhOffset", "the GRH area [" + grhOffset + ", +" + GRH_BYTES
          + ") is not inside the buffer of " + buffer.capacity() + " bytes");
    }
    ByteBuffer grh = buffer.duplicate().order(ByteOrder.BIG_ENDIAN); // a GRH is in network order
    int trafficClass = ((grh.get(grhOffset) & 0x0f) << 4) | ((grh.get(grhOffset + 1) & 0xf0) >> 4);
    Gid sgid = new Gid(grh.getLong(grhOffset + 8), grh.getLong(grhOffset + 16));
    return new AhAttr(wc.portNum(), wc.slid(), 0, true, sgid, 0, 0xFF, trafficClass);
  }

  /**
   * An address handle back to the sender of {@code wc} ({@code ib_create_ah_from_wc}) in {@code pd}; see
   * {@link #attr}. <b>Never blocks; any thread and any context.</b>
   */
  public static AddressHandle create(ProtectionDomain pd, WorkCompletion wc, ByteBuffer buffer, int grhOffset) {
    InvalidArgumentException.requireNonNull(pd, "pd");
    return pd.createAh(attr(wc, buffer, grhOffset));
  }
}
