package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.Grh;
import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * One node's end of the wire tests: a cluster device, a PD with a registered region, a stub QP bound to a sink
 * that records what arrives, and the QP's link.
 */
final class WireSide {
  /** A packet as the sink got it, with the endpoint it came from. */
  record Received(Endpoint from, Packet packet) {}

  static final int QPN = 17;

  final ActorSystem<?> system;
  final ClusterFabric fabric;
  final ClusterDevice device;
  final ProtectionDomain pd;
  final MemoryRegion mr;
  final StubQp qp;
  final ClusterLink link;
  final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();

  WireSide(ActorSystem<?> system, QpType type, int mrBytes) throws Exception {
    this.system = system;
    this.fabric = ClusterFabric.get(system);
    this.device = ClusterNodes.get(fabric.addDevice("cl%d", 1));
    this.pd = ClusterNodes.get(device.device().allocPd());
    this.mr = ClusterNodes.get(pd.registerMr(ByteBuffer.allocateDirect(mrBytes), AccessFlags.LOCAL_WRITE));
    this.qp = new StubQp(QPN, type, pd.handle(), device.driverDevice());
    this.link = device.link(qp);
    device.bind(QPN, (from, packets, count) -> {
      for (int i = 0; i < count; i++) {
        received.add(new Received(from, packets[i]));
      }
    });
  }

  AhAttr pathTo(WireSide other) {
    return AhAttr.ofGid(1, other.device.gid(1));
  }

  /** A packet with every header field set from {@code seed} (GRH included). */
  Packet packet(Opcode op, int destQpn, int seed, Payload payload) {
    Grh grh = new Grh(device.gid(1), device.gid(1), seed & 0xff, seed & 0xfffff, 64);
    return new Packet(op, QPN, destQpn, seed & 0xffffff, (seed & 1) != 0, (seed & 2) != 0, 1000L + seed,
        op.isRequest() ? 0 : 0x60 | (seed & 31), 0x1000_0000_0000L + seed, seed * 7, seed * 11, seed * 13,
        -seed * 17L, seed * 19L, seed * 23L, 0x1111_0000 + seed, 0, grh, payload);
  }

  /** {@code n} bytes of the region from {@code offset} filled with a pattern, as a WR payload of this QP. */
  Payload.Wqe wqe(int offset, int n, int salt) {
    ByteBuffer b = mr.buffer();
    for (int i = 0; i < n; i++) {
      b.put(offset + i, (byte) (i * 31 + salt));
    }
    return new Payload.Wqe(StubQp.Wr.gather(dev.midlayer.ib.WrOpcode.SEND, mr.iova() + offset, n, mr.lkey()), qp);
  }

  static byte[] pattern(int n, int salt) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + salt);
    }
    return b;
  }
}
