package dev.midlayer.cm;

/**
 * Why a connection or a SIDR resolution did not come about: the reason a REJ (or SIDR_REP) carries, with the
 * code of the IBTA spec (vol. 1, §12.6.7, table 112) where IB CM has one. Immutable; never blocks; any thread.
 */
public enum RejectReason {
  /** No listener for the service ID on the destination port (IB CM: invalid service ID, 8). */
  NO_LISTENER(8),
  /** The passive side's consumer rejected the request, or its handler threw (IB CM: consumer reject, 28). */
  CONSUMER_REJECT(28),
  /** No answer within {@code midlayer.cm.connect-timeout}: REQ, REP or SIDR_REQ timed out (IB CM: timeout, 26). */
  TIMEOUT(26),
  /** No CM serves the destination GID, node or device (rdma_cm's {@code RDMA_CM_EVENT_UNREACHABLE}; no IB code). */
  UNREACHABLE(0),
  /** A message for a connection the receiver no longer has, e.g. a REP after a REQ timeout (IB CM: stale, 10). */
  STALE_CONNECTION(10),
  /** The device or port the connection used went away while it was being set up (no IB code). */
  DEVICE_REMOVED(0);

  private final int ibCode;

  RejectReason(int ibCode) {
    this.ibCode = ibCode;
  }

  /** The IB CM reject reason code, or 0 if IB CM has none for it. */
  public int ibCode() {
    return ibCode;
  }
}
