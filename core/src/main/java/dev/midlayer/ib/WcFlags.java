package dev.midlayer.ib;

/** Bits of a work completion's flags ({@code enum ib_wc_flags}). */
public final class WcFlags {
  private WcFlags() {}

  /** The first 40 bytes of the receive buffer hold a GRH (UD receives). */
  public static final int GRH = 1;
  /** {@link dev.midlayer.verbs.WorkCompletion#immData()} is valid. */
  public static final int WITH_IMM = 1 << 1;
  /** {@link dev.midlayer.verbs.WorkCompletion#invalidatedRkey()} is valid: the sender invalidated that key. */
  public static final int WITH_INVALIDATE = 1 << 2;
}
