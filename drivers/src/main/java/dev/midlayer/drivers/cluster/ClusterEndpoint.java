package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;

/**
 * A peer QP's port as the cluster link resolved it: the remote node, device and port (by GID), the local port
 * the packets leave from, and the path MTU the wire segments by. The QP number is not part of it: every packet
 * names its destination QP. The {@code from} endpoint of an inbound packet is one of these too, pointing back
 * at the sender, so an answer sent to it through the receiving QP's own link reaches the sending QP.
 *
 * <p>Immutable (its state reads are volatile); every method is safe from any thread and never blocks.
 */
public final class ClusterEndpoint implements Endpoint {
  private final Peer peer;
  private final int remoteDevice;
  private final int remotePort;
  private final Gid remoteGid;
  private final ClusterDevice localDevice;
  private final int localPort;
  private final int mtu;
  private final Direction direction;

  ClusterEndpoint(Peer peer, int remoteDevice, int remotePort, Gid remoteGid, ClusterDevice localDevice,
      int localPort, int mtu) {
    this.peer = peer;
    this.remoteDevice = remoteDevice;
    this.remotePort = remotePort;
    this.remoteGid = remoteGid;
    this.localDevice = localDevice;
    this.localPort = localPort;
    this.mtu = mtu;
    this.direction = new Direction(localDevice.gid(localPort), remoteGid);
  }

  /**
   * True while the remote node is an Up member (and was not removed) and the local port is ACTIVE. Never
   * blocks; any thread.
   */
  @Override
  public boolean up() {
    return peer.up() && localDevice.portState(localPort) == PortState.ACTIVE;
  }

  /** From the local port's GID to the remote port's. Never blocks; any thread. */
  @Override
  public Direction direction() {
    return direction;
  }

  /** The remote port's GID. Never blocks; any thread. */
  public Gid remoteGid() {
    return remoteGid;
  }

  /** The local port packets to this endpoint leave from. Never blocks; any thread. */
  public int localPort() {
    return localPort;
  }

  /** The path MTU in bytes the wire segments messages to this endpoint by. Never blocks; any thread. */
  public int mtu() {
    return mtu;
  }

  Peer peer() {
    return peer;
  }

  int remoteDevice() {
    return remoteDevice;
  }

  int remotePort() {
    return remotePort;
  }

  ClusterDevice localDevice() {
    return localDevice;
  }

  @Override
  public String toString() {
    return "endpoint " + direction + " (mtu " + mtu + ")";
  }
}
