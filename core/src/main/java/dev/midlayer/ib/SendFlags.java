package dev.midlayer.ib;

/**
 * Bits of a send work request's flags ({@code enum ib_send_flags}). Plain int bits rather than an
 * {@code EnumSet} so that a work request carries them without allocating.
 */
public final class SendFlags {
  private SendFlags() {}

  /** RC: do not start this WR until every earlier RDMA READ and atomic WR on the QP has completed. */
  public static final int FENCE = 1;
  /** Produce a completion on success (only matters when the QP signals selectively). */
  public static final int SIGNALED = 1 << 1;
  /** The receive completion at the responder is solicited (wakes a SOLICITED-armed CQ). */
  public static final int SOLICITED = 1 << 2;
  /** Copy the payload at post time (at most the QP's max inline data); lkeys are ignored. */
  public static final int INLINE = 1 << 3;

  /** Every defined flag. */
  public static final int ALL = FENCE | SIGNALED | SOLICITED | INLINE;
}
