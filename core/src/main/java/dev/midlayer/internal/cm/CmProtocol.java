package dev.midlayer.internal.cm;

import dev.midlayer.cm.RejectReason;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.Mtu;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. The messages CMs exchange, in one place: IB CM's MADs (IBTA vol. 1, §12.6; Linux
 * {@code drivers/infiniband/core/cm.c}) as plain records of serializable values, and the directory messages
 * with which CMs found through the Receptionist tell each other their port GIDs. They cross JVMs once the
 * Receptionist is cluster-wide: nothing here refers to a consumer object or a QP; the only actor references are
 * those of CM actors in {@link Ports}.
 *
 * <p>Serialization: {@link CmSerializer}, bound in core's {@code reference.conf}, writes their fields when they
 * cross JVMs; in one JVM nothing is serialized.
 */
public sealed interface CmProtocol {

  /** A CM message proper: routed by GID, as a MAD is ({@link CmTransport}). */
  sealed interface Mad extends CmProtocol {
    /** The sender's port GID. */
    Gid srcGid();

    /** The receiver's port GID. */
    Gid dstGid();
  }

  /** A message of an existing connection: its sender's and receiver's communication IDs. */
  sealed interface ConnMad extends Mad {
    long localCommId();

    long remoteCommId();
  }

  /** Connect request: the active side's QP and what it proposes. */
  record Req(Gid srcGid, Gid dstGid, long localCommId, long serviceId, int qpn, boolean uc, int startPsn,
      Mtu pathMtu, int responderResources, int initiatorDepth, int rnrRetryCount, int retryCount,
      int localAckTimeout, byte[] privateData) implements Mad {}

  /** Reply: the passive side's QP and what it settled; its QP is in RTR. */
  record Rep(Gid srcGid, Gid dstGid, long localCommId, long remoteCommId, int qpn, int startPsn, Mtu pathMtu,
      int responderResources, int initiatorDepth, int rnrRetryCount, byte[] privateData) implements ConnMad {}

  /** Ready to use: the active side is in RTS. */
  record Rtu(Gid srcGid, Gid dstGid, long localCommId, long remoteCommId, byte[] privateData)
      implements ConnMad {}

  /** Reject, with why. {@code remoteCommId} is 0 when the REQ's sender is rejected before it had a peer. */
  record Rej(Gid srcGid, Gid dstGid, long localCommId, long remoteCommId, RejectReason reason, byte[] privateData)
      implements ConnMad {}

  /** Disconnect request: the sender's QP is in ERR. */
  record Dreq(Gid srcGid, Gid dstGid, long localCommId, long remoteCommId, byte[] privateData)
      implements ConnMad {}

  /** Disconnect reply. */
  record Drep(Gid srcGid, Gid dstGid, long localCommId, long remoteCommId, byte[] privateData)
      implements ConnMad {}

  /** Service ID resolution request (UD). */
  record SidrReq(Gid srcGid, Gid dstGid, long requestId, long serviceId, byte[] privateData) implements Mad {}

  /** Service ID resolution reply: {@code reason} null for success, with the UD QP's number and Q_Key. */
  record SidrRep(Gid srcGid, Gid dstGid, long requestId, RejectReason reason, int qpn, int qkey, byte[] privateData)
      implements Mad {}

  // ---- directory (Receptionist transport) ----

  /** One port of a CM's midlayer and its GIDs. */
  record PortGids(String deviceName, int port, List<Gid> gids) {}

  /**
   * The ports of the CM {@code cm} (of the actor system at {@code node}, {@code Address.toString()}) now: sent to
   * each CM when it appears in the Receptionist listing and to all when a device comes or goes. {@code answer}
   * asks the receiver to send its own back (its listing may not show the sender yet).
   */
  record Ports(ActorRef<CmProtocol> cm, String node, List<PortGids> ports, boolean answer) implements CmProtocol {}
}
