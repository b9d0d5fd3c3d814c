package dev.midlayer.ib;

/**
 * Queue pair capabilities ({@code struct ib_qp_cap}): asked for at creation, checked against the device's
 * attributes, and returned with the values actually provided (which may be larger). Immutable.
 *
 * @param maxSendWr outstanding send WRs
 * @param maxRecvWr outstanding receive WRs
 * @param maxSendSge SGEs per send WR
 * @param maxRecvSge SGEs per receive WR
 * @param maxInlineData bytes of inline data per send WR
 */
public record QpCap(int maxSendWr, int maxRecvWr, int maxSendSge, int maxRecvSge, int maxInlineData) {}
