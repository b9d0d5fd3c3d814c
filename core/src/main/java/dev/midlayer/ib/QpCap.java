package dev.midlayer.ib;

/**
 * Queue pair capabilities ({@code struct ib_qp_cap}): asked for at creation, checked against the device's
 * attributes, and returned with the values actually provided (which may be larger). Immutable; build with
 * {@link #builder()}, which names each field (the canonical constructor stays for existing callers).
 *
 * <p>Threading: every method of the record and of its {@link Builder} never blocks. The record may be used
 * from any thread; a builder is not thread-safe: use it from one thread at a time.
 *
 * @param maxSendWr outstanding send WRs
 * @param maxRecvWr outstanding receive WRs
 * @param maxSendSge SGEs per send WR
 * @param maxRecvSge SGEs per receive WR
 * @param maxInlineData bytes of inline data per send WR
 */
public record QpCap(int maxSendWr, int maxRecvWr, int maxSendSge, int maxRecvSge, int maxInlineData) {

  /**
   * A builder with the defaults of the rdma-core examples: {@code maxSendSge} and {@code maxRecvSge} 1,
   * {@code maxInlineData} 0. {@code maxSendWr} and {@code maxRecvWr} have no default and must be set: they
   * size the work queues, and the CQs must be sized for them (with an SRQ, whose receive queue the QP uses
   * instead of its own, set {@code maxRecvWr(0)}).
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builder for {@link QpCap}. Not thread-safe: one thread at a time; never blocks. {@link #build()} checks
   * only what holds on every device (set, not negative); {@code createQp} checks the values against the
   * device's limits.
   */
  public static final class Builder {
    private Integer maxSendWr;
    private Integer maxRecvWr;
    private int maxSendSge = 1;
    private int maxRecvSge = 1;
    private int maxInlineData;

    private Builder() {}

    /** Sets {@code maxSendWr}: outstanding send WRs (required). */
    public Builder maxSendWr(int v) { this.maxSendWr = v; return this; }
    /** Sets {@code maxRecvWr}: outstanding receive WRs (required; 0 with an SRQ). */
    public Builder maxRecvWr(int v) { this.maxRecvWr = v; return this; }
    /** Sets {@code maxSendSge}: SGEs per send WR (default 1). */
    public Builder maxSendSge(int v) { this.maxSendSge = v; return this; }
    /** Sets {@code maxRecvSge}: SGEs per receive WR (default 1). */
    public Builder maxRecvSge(int v) { this.maxRecvSge = v; return this; }
    /** Sets {@code maxInlineData}: bytes of inline data per send WR (default 0: no inline sends). */
    public Builder maxInlineData(int v) { this.maxInlineData = v; return this; }

    /**
     * A {@link QpCap} of the values set, the others at their defaults.
     *
     * @throws InvalidArgumentException naming the field, if {@code maxSendWr} or {@code maxRecvWr} was not
     *     set or a value is negative
     */
    public QpCap build() {
      return new QpCap(required("maxSendWr", maxSendWr), required("maxRecvWr", maxRecvWr),
          nonNegative("maxSendSge", maxSendSge), nonNegative("maxRecvSge", maxRecvSge),
          nonNegative("maxInlineData", maxInlineData));
    }

    private static int required(String field, Integer value) {
      if (value == null) {
        throw new InvalidArgumentException(field, "must be set (no default: it sizes the work queue and the CQ "
            + "must be sized for it)");
      }
      return nonNegative(field, value);
    }

    private static int nonNegative(String field, int value) {
      if (value < 0) {
        throw new InvalidArgumentException(field, "must not be negative, was " + value);
      }
      return value;
    }
  }
}
