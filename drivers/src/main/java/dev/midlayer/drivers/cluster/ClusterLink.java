package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.Link;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpType;
import dev.midlayer.spi.QpContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One QP's link on a cluster device: resolves GIDs through the node's GID table (lock-free), and hands packets
 * to the destination node's sender queue. {@link #send} queues at once; {@link #flush} rings each touched
 * sender's doorbell: if that queue was idle, this thread runs the node's {@link FrameSender} there and then (no
 * actor hop), so a burst of one engine turn leaves in as few frames as fit. Packets to an endpoint that is not {@link Endpoint#up() up} are dropped here (the route is
 * down; RC retransmits).
 *
 * <p>Threading: {@link #connected}, {@link #datagram}, {@link #send} and {@link #flush} are for the QP's engine
 * (one thread at a time) and <b>never block</b>; {@link #pathChanged} from any thread.
 */
public final class ClusterLink implements Link {
  private final ClusterDevice device;
  private final QpContext qp;
  private final List<Peer> touched = new ArrayList<>(2);
  private final Map<Gid, ClusterEndpoint> datagrams = new HashMap<>();
  private long tableVersion = -1;
  private ClusterEndpoint connected;
  private volatile boolean stale = true;
  private long dropped;

  ClusterLink(ClusterDevice device, QpContext qp) {
    this.device = device;
    this.qp = qp;
  }

  /**
   * The peer of the QP's AV (by its destination GID; a cluster port needs a GRH) and DEST_QPN, or null if the
   * GID has no route. Never blocks; the engine's thread.
   */
  @Override
  public Endpoint connected() {
    checkTable();
    if (stale) {
      stale = false;
      QpAttr a = qp.attributes();
      AhAttr ah = a.ahAttr();
      connected = ah == null || !ah.grh() ? null : resolve(ah, pathMtu(a));
    }
    return connected;
  }

  /** The port behind {@code ah} (by GID), or null if it has no route. Never blocks; the engine's thread. */
  @Override
  public Endpoint datagram(AhAttr ah, int destQpn) {
    if (!ah.grh() || ah.dgid() == null) {
      return null;
    }
    checkTable();
    ClusterEndpoint e = datagrams.get(ah.dgid());
    if (e == null || e.localPort() != ah.portNum()) {
      e = resolve(ah, Integer.MAX_VALUE);
      if (e != null) {
        datagrams.put(ah.dgid(), e);
      }
    }
    return e;
  }

  /**
   * Queues {@code packet} for {@code to}'s node; it leaves at the next {@link #flush()} at the latest. Dropped
   * if {@code to} is not up. Never blocks; the engine's thread.
   */
  @Override
  public void send(Endpoint to, Packet packet, int attempt) {
    ClusterEndpoint e = (ClusterEndpoint) to;
    if (!e.up()) {
      dropped++;
      return;
    }
    Peer p = e.peer();
    p.offer(new Outgoing(e, packet));
    if (!touched.contains(p)) {
      touched.add(p);
    }
  }

  /** Rings the doorbell of every sender this turn queued for. Never blocks; the engine's thread. */
  @Override
  public void flush() {
    for (int i = 0; i < touched.size(); i++) {
      touched.get(i).ring();
    }
    touched.clear();
  }

  /** The QP's AV changed: {@link #connected()} resolves again. Never blocks; any thread. */
  @Override
  public void pathChanged() {
    stale = true;
  }

  /** Packets dropped because their endpoint was down. The engine's thread. */
  public long dropped() {
    return dropped;
  }

  private void checkTable() {
    long v = device.fabric().routesVersion();
    if (v != tableVersion) {
      tableVersion = v;
      datagrams.clear();
      stale = true;
    }
  }

  private int pathMtu(QpAttr a) {
    Mtu m = a.pathMtu();
    return m == null || qp.type() == QpType.UD ? Integer.MAX_VALUE : m.bytes();
  }

  private ClusterEndpoint resolve(AhAttr ah, int qpMtu) {
    Route r = device.fabric().route(ah.dgid());
    if (r == null) {
      return null;
    }
    int port = ah.portNum() >= 1 && ah.portNum() <= device.portCount() ? ah.portNum() : 1;
    int mtu = Math.min(Math.min(device.activeMtu().bytes(), r.mtu()), qpMtu);
    return new ClusterEndpoint(r.peer(), r.device(), r.port(), r.gid(), device, port, mtu);
  }
}
