package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.drivers.engine.EngineSettings;
import dev.midlayer.drivers.engine.Link;
import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.drivers.engine.QpEngine;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.Spawner;
import java.util.Arrays;

/**
 * The cluster driver's {@code create_qp}: every QP runs the shared transport engine ({@link QpEngine}) over its
 * {@link ClusterLink}, and the node's inbound actor hands it the packets for its QP number. The wire does not
 * share memory, so READ data and atomic results come back in responses, and payloads are read from registered
 * memory as the frame is written.
 *
 * <p>Threading: {@link #create} runs on the midlayer's device actor (may sleep, does not); the sink runs on the
 * node's inbound actor and never blocks (it copies the packets and tells the QP's actor).
 */
final class EngineQps implements ClusterDevice.QpFactory {
  private final EngineSettings settings;

  EngineQps(EngineSettings settings) {
    this.settings = settings;
  }

  @Override
  public DriverQp create(ClusterDevice device, QpContext qp, Spawner spawner) {
    ClusterLink wire = device.link(qp);
    EngineQp eq = EngineQp.create(qp, device, spawner, settings, e -> new WireLink(wire));
    PacketSink sink = (from, packets, count) -> deliver(eq, from, packets, count);
    device.bind(qp.qpNum(), sink);
    eq.whenDestroyed(() -> device.unbind(qp.qpNum(), sink));
    return eq;
  }

  private static void deliver(EngineQp eq, Endpoint from, Packet[] packets, int count) {
    Packet[] mine = Arrays.copyOf(packets, count); // the inbound actor reuses its array
    for (int i = 0; i < count; i++) {
      if (PacketSink.requesterKeyInvalid(mine[i])) {
        // The sender could not read the requester's SGEs: the responder NAKs it (LOC_PROT_ERR at the requester).
        mine[i] = mine[i].withPayload(new Payload.Unreadable(mine[i].dmaLength()));
      }
    }
    eq.actor().tell(new QpEngine.Inbound(from, mine, count));
  }

  /**
   * The cluster link as the engine uses it: a READ or an atomic request carries no bytes over a wire (the answer
   * brings the data), so its WR reference is dropped before the frame would copy the local buffer.
   */
  private static final class WireLink implements Link {
    private final ClusterLink wire;

    WireLink(ClusterLink wire) {
      this.wire = wire;
    }

    @Override
    public Endpoint connected() {
      return wire.connected();
    }

    @Override
    public Endpoint datagram(AhAttr ah, int destQpn) {
      return wire.datagram(ah, destQpn);
    }

    @Override
    public void send(Endpoint to, Packet packet, int attempt) {
      if (packet.payload() != null && (packet.opcode() == Opcode.RDMA_READ_REQUEST || packet.opcode().isAtomic())) {
        packet = packet.withPayload(null);
      }
      wire.send(to, packet, attempt);
    }

    @Override
    public void flush() {
      wire.flush();
    }

    @Override
    public void pathChanged() {
      wire.pathChanged();
    }
  }
}
