package dev.midlayer.cm;

import dev.midlayer.device.Device;
import dev.midlayer.ib.Gid;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * One side of a connection ({@code struct rdma_cm_id} of a connected id). Events carry it from the first one on;
 * the values the exchange settles ({@link #remoteQpn()}, {@link #params()}, {@link #remotePrivateData()}) are set
 * before {@link CmEvent.Established} is delivered. Getters never block; any thread.
 */
public interface CmConnection {
  /** The device of this side's port. */
  Device device();

  /** This side's port number. */
  int port();

  /** The service ID the REQ was for. */
  long serviceId();

  /** The consumer's QP the CM connects; null on a passive side before its consumer accepted. */
  QueuePair qp();

  /** This side's port GID. */
  Gid localGid();

  /** The peer's port GID. */
  Gid remoteGid();

  /** The peer's QP number, or -1 before it is known. */
  int remoteQpn();

  /** True on the side that sent the REQ. */
  boolean active();

  /** What the two sides agreed, as this side applies it (its own start PSN); null before it is known. */
  CmParams params();

  /** The peer's REQ (on the passive side) or REP (on the active side) private data; empty before. */
  byte[] remotePrivateData();

  /** {@link #disconnect(byte[])} without private data. */
  default CompletionStage<Done> disconnect() {
    return disconnect(null);
  }

  /**
   * Disconnects ({@code rdma_disconnect}): the CM moves the QP to ERR at once (outstanding work requests flush with
   * WR_FLUSH_ERR), sends DREQ, and delivers {@link CmEvent.Disconnected} when DREP arrives or after
   * {@code midlayer.cm.disconnect-timeout}; the peer moves its QP to ERR and gets {@link CmEvent.Disconnected}
   * too. Both then spend {@code midlayer.cm.timewait} in timewait ({@link CmEvent.TimewaitExit}). Calling it on a
   * connection not established, or twice, completes at once with nothing sent. <b>Never blocks</b>; any thread,
   * callbacks included.
   *
   * @return a stage that completes when this side is disconnected (DREP or timeout)
   * @throws dev.midlayer.ib.InvalidArgumentException at once for more than {@link PrivateDataLimits#DREQ} bytes
   */
  CompletionStage<Done> disconnect(byte[] privateData);
}
