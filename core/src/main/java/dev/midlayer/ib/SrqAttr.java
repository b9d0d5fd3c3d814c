package dev.midlayer.ib;

/**
 * Shared receive queue attributes ({@code struct ib_srq_attr}). Immutable.
 *
 * @param maxWr outstanding receive WRs
 * @param maxSge SGEs per receive WR
 * @param srqLimit the low watermark: when a receive is taken and fewer than this many remain,
 *     SRQ_LIMIT_REACHED fires once and the limit disarms; 0 = disarmed
 */
public record SrqAttr(int maxWr, int maxSge, int srqLimit) {
  /** {@link dev.midlayer.verbs.SharedReceiveQueue#modify} mask bit: resize ({@code IB_SRQ_MAX_WR}); not supported. */
  public static final int MAX_WR = 1;
  /** {@link dev.midlayer.verbs.SharedReceiveQueue#modify} mask bit: arm the limit ({@code IB_SRQ_LIMIT}). */
  public static final int LIMIT = 2;
}
