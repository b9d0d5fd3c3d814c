package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmParams;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.device.Device;
import dev.midlayer.ib.Gid;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. The consumer's handle of one side of a connection. The settled values are written by its
 * {@link ConnectionActor} before it delivers ESTABLISHED (volatile), read by anyone.
 */
final class ConnectionImpl implements CmConnection {
  final long localCommId;
  private final Device device;
  private final int port;
  private final long serviceId;
  private volatile QueuePair qp;
  private final Gid localGid;
  private final boolean active;
  volatile Gid remoteGid;
  volatile int remoteQpn = -1;
  volatile CmParams params;
  volatile byte[] remotePrivateData = new byte[0];
  volatile ActorRef<ConnectionActor.Cmd> actor;

  ConnectionImpl(long localCommId, Device device, int port, long serviceId, QueuePair qp, Gid localGid,
      Gid remoteGid, boolean active) {
    this.localCommId = localCommId;
    this.device = device;
    this.port = port;
    this.serviceId = serviceId;
    this.qp = qp;
    this.localGid = localGid;
    this.remoteGid = remoteGid;
    this.active = active;
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public long serviceId() {
    return serviceId;
  }

  /** The passive side's QP, once the consumer accepted. Its actor only. */
  void acceptedQp(QueuePair accepted) {
    this.qp = accepted;
  }

  @Override
  public QueuePair qp() {
    return qp;
  }

  @Override
  public Gid localGid() {
    return localGid;
  }

  @Override
  public Gid remoteGid() {
    return remoteGid;
  }

  @Override
  public int remoteQpn() {
    return remoteQpn;
  }

  @Override
  public boolean active() {
    return active;
  }

  @Override
  public CmParams params() {
    return params;
  }

  @Override
  public byte[] remotePrivateData() {
    return remotePrivateData.clone();
  }

  @Override
  public CompletionStage<Done> disconnect(byte[] privateData) {
    byte[] data = PrivateDataLimits.check("privateData", "DREQ", PrivateDataLimits.DREQ, privateData);
    CompletableFuture<Done> result = new CompletableFuture<>();
    actor.tell(new ConnectionActor.Disconnect(data, result));
    return result;
  }

  @Override
  public String toString() {
    return "CM connection #" + Long.toHexString(localCommId) + " (" + (active ? "active" : "passive") + ", QP "
        + (qp == null ? "-" : qp.qpNum()) + " on " + device.name() + ":" + port + " to " + remoteGid + ", service 0x"
        + Long.toHexString(serviceId) + ")";
  }
}
