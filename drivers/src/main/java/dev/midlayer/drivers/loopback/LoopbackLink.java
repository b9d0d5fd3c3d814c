package dev.midlayer.drivers.loopback;

import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.drivers.engine.Link;
import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.drivers.engine.QpEngine;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpType;
import dev.midlayer.spi.QpContext;

/**
 * The loopback fabric's link: packets go to the destination QP's engine as one {@link QpEngine.Inbound}
 * message per batch (up to {@code max-batch} packets, or fewer when the turn ends), like a burst of packets on a
 * wire costing one interrupt. The engines share the JVM's memory ({@link #sharesMemory()}), so a responder
 * reads a SEND's or WRITE's bytes straight from the requester's registered memory and writes READ data and
 * atomic results straight into it: zero copies on RC. With {@code midlayer.loopback.share-memory = off} it
 * behaves as a wire instead (payloads copied as they leave, READ and atomic answers carrying the data), so
 * the engine's wire path runs in one JVM too.
 *
 * <p>Threading: the QP's engine actor only, but for {@link #pathChanged()} (any thread).
 */
final class LoopbackLink implements Link {
  private final EngineQp self;
  private final LoopbackDevice device;
  private final int maxBatch;
  /** The connected peer (RC, UC), found on first use after every change of the path. */
  private volatile LoopbackEndpoint connected;

  private LoopbackEndpoint pendingTo;
  private Packet[] pending;
  private int count;

  /** {@code midlayer.loopback.share-memory}: off makes the link copy payloads as a wire does. */
  private final boolean shareMemory;

  LoopbackLink(EngineQp self, LoopbackDevice device, int maxBatch, boolean shareMemory) {
    this.self = self;
    this.device = device;
    this.maxBatch = maxBatch;
    this.shareMemory = shareMemory;
  }

  @Override
  public boolean sharesMemory() {
    return shareMemory;
  }

  @Override
  public void pathChanged() {
    connected = null;
  }

  /**
   * The engine of the QP this one is connected to (its AV and DEST_QPN), or null if there is none (no such
   * device or QP on the fabric, or not a QP of the same type). Lock-free; cached until the peer is destroyed.
   */
  @Override
  public Endpoint connected() {
    LoopbackEndpoint p = connected;
    // One volatile read per use, not a lookup in the device's QP table for every send.
    if (p != null && !p.target().isDestroyed()) {
      return p;
    }
    QpContext qp = self.qp();
    QpAttr a = qp.attributes();
    AhAttr av = a.ahAttr();
    if (av == null) {
      return null;
    }
    p = resolve(av, a.destQpNum(), qp.type(), Math.max(1, a.portNum()));
    connected = p;
    return p;
  }

  @Override
  public Endpoint datagram(AhAttr ah, int destQpn) {
    return resolve(ah, destQpn, QpType.UD, ah.portNum());
  }

  private LoopbackEndpoint resolve(AhAttr av, int destQpn, QpType type, int localPort) {
    LoopbackDevice dest = device.fabric().route(av);
    if (dest == null || dest.driverDevice() == null) {
      return null;
    }
    QpContext target = dest.driverDevice().qp(destQpn);
    if (target == null || target.type() != type || !(target.driver() instanceof EngineQp eq)) {
      return null;
    }
    int port = dest.portOf(av);
    if (port == 0) {
      return null;
    }
    return new LoopbackEndpoint(eq, dest, port, self, device, localPort);
  }

  @Override
  public void send(Endpoint to, Packet packet, int attempt) {
    LoopbackEndpoint e = (LoopbackEndpoint) to;
    if (e != pendingTo) {
      flush();
      pendingTo = e;
    }
    if (pending == null) {
      pending = new Packet[maxBatch];
    }
    if (!shareMemory && packet.payload() instanceof Payload.Wqe w) {
      // As a wire: the bytes leave now; a READ or an atomic carries none (the answer brings the data).
      boolean carriesData = !(packet.opcode() == Opcode.RDMA_READ_REQUEST || packet.opcode().isAtomic());
      packet = packet.withPayload(carriesData ? w.copy() : null);
    }
    pending[count++] = packet;
    if (count == maxBatch) {
      flush();
    }
  }

  @Override
  public void flush() {
    if (count > 0) {
      pendingTo.target().actor().tell(new QpEngine.Inbound(pendingTo.back(), pending, count));
      pending = null;
      count = 0;
    }
    pendingTo = null;
  }
}
