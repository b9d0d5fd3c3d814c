package dev.midlayer.cm;

import dev.midlayer.ib.Gid;
import dev.midlayer.verbs.QueuePair;

/**
 * What the CM tells a listener or a connection's owner, as rdma_cm's {@code RDMA_CM_EVENT_*} (Linux
 * {@code drivers/infiniband/core/cma.c}). Delivered to a {@link CmEventSink}, never in the caller's call chain.
 * Private data in events is a copy the consumer may keep. Immutable but for the byte arrays.
 */
public sealed interface CmEvent {
  /**
   * {@code RDMA_CM_EVENT_CONNECT_REQUEST}: a REQ for the listener's service ID. Answer with {@link #accept} or
   * {@link #reject}, from the handler or later, from any thread; without an answer the active side's REQ times
   * out. Goes to the listener's sink.
   *
   * @param listener the listener the REQ is for
   * @param remoteGid the active side's port GID
   * @param remoteQpn the active side's QP number
   * @param privateData the REQ's private data
   * @param proposed the parameters the active side proposed
   * @param request the handle to answer with
   */
  record ConnectRequest(CmListener listener, Gid remoteGid, int remoteQpn, byte[] privateData, CmParams proposed,
      CmRequest request) implements CmEvent {
    /** Accepts with {@code qp}; see {@link CmRequest#accept(QueuePair, byte[])}. Never blocks; any thread. */
    public java.util.concurrent.CompletionStage<CmConnection> accept(QueuePair qp, byte[] repPrivateData) {
      return request.accept(qp, repPrivateData);
    }

    /** Rejects; see {@link CmRequest#reject(byte[])}. Never blocks; any thread. */
    public void reject(byte[] rejPrivateData) {
      request.reject(rejPrivateData);
    }
  }

  /**
   * A SIDR_REQ for the listener's service ID (rdma_cm's connect request on a UD port space): answer with
   * {@link CmSidrRequest#accept} (a UD QP in RTS: its QPN and Q_Key go back) or {@link CmSidrRequest#reject}.
   */
  record SidrRequest(CmListener listener, Gid remoteGid, byte[] privateData, CmSidrRequest request)
      implements CmEvent {}

  /** {@code RDMA_CM_EVENT_ESTABLISHED}: the QP is in RTS (active: RTU sent; passive: RTU received). */
  record Established(CmConnection connection) implements CmEvent {}

  /**
   * {@code RDMA_CM_EVENT_REJECTED}: a REJ arrived or the CM gave up ({@link RejectReason#TIMEOUT}); the QP was moved
   * to ERR, so what was posted on it is flushed.
   */
  record Rejected(CmConnection connection, RejectReason reason, byte[] privateData) implements CmEvent {}

  /** {@code RDMA_CM_EVENT_UNREACHABLE}: no CM serves the destination; nothing was sent. */
  record Unreachable(CmConnection connection, CmDestination destination, String why) implements CmEvent {}

  /**
   * {@code RDMA_CM_EVENT_DISCONNECTED}: this side or the peer disconnected (DREQ/DREP), or the peer's device went
   * away. The QP is in ERR: outstanding work requests complete with WR_FLUSH_ERR.
   *
   * @param privateData the peer's DREQ or DREP private data (empty if none came)
   */
  record Disconnected(CmConnection connection, byte[] privateData) implements CmEvent {}

  /**
   * {@code RDMA_CM_EVENT_DEVICE_REMOVAL}: the device of the listener or connection is being unregistered. The QP
   * was moved to ERR; destroy it (the device's clients must have destroyed theirs before their remove returns).
   *
   * @param listener the listener, or null for a connection's event
   * @param connection the connection, or null for a listener's event
   */
  record DeviceRemoval(CmListener listener, CmConnection connection, String deviceName) implements CmEvent {}

  /**
   * {@code RDMA_CM_EVENT_TIMEWAIT_EXIT}: the connection left timewait ({@code midlayer.cm.timewait} after it was
   * disconnected); its QP number may be connected again.
   */
  record TimewaitExit(CmConnection connection) implements CmEvent {}
}
