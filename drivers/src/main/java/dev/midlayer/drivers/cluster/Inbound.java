package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A node's frame recipient ({@code /system/midlayer-cluster-data}): takes the frames of every peer, reassembles
 * segmented messages, hands the packets to the {@link PacketSink} bound to their (device, QPN), and grants the
 * sender credits back every {@code grant-every} frames. A frame that does not follow the last one of its sender
 * (Artery dropped some) and a segment without its first lose the message they belong to, nothing more.
 *
 * <p>Runs on the fabric's dispatcher; everything here is confined to the actor; the sinks are called on it.
 */
final class Inbound {
  sealed interface Command permits Wire.Frame, Wire.InboundFrame {}

  /** What the receiver knows of one sender: the last frame seen and granted, and a message in reassembly. */
  private static final class Rx {
    final Peer peer;
    long lastSeq;
    long granted;
    Wire.Decoded first;
    byte[] data;
    int filled;
    boolean bad;
    final Map<FromKey, ClusterEndpoint> from = new HashMap<>();

    Rx(Peer peer) {
      this.peer = peer;
    }
  }

  private record FromKey(int srcDevice, int srcPort, int dstDevice, int dstPort) {}

  private final ClusterFabric fabric;
  private final ActorContext<Command> ctx;
  private final Map<Long, Rx> senders = new HashMap<>();
  private final ByteBuffer local;
  private Packet[] batch = new Packet[64];
  private int batchCount;
  private PacketSink batchSink;
  private ClusterEndpoint batchFrom;

  private Inbound(ClusterFabric fabric, ActorContext<Command> ctx) {
    this.fabric = fabric;
    this.ctx = ctx;
    this.local = ByteBuffer.allocate(fabric.settings().frameSize() + FrameCodec.MAX_UNIT_HEADER);
  }

  static Behavior<Command> create(ClusterFabric fabric) {
    return Behaviors.setup(ctx -> new Inbound(fabric, ctx).behavior());
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Wire.InboundFrame.class, f -> {
          onFrame(f);
          return Behaviors.same();
        })
        .onMessage(Wire.Frame.class, f -> {
          // From this node's own sender, not serialized: the same codec makes the same copy a peer would get.
          local.clear();
          fabric.transfers().enter(f);
          try {
            FrameCodec.encode(f, local);
          } finally {
            fabric.transfers().leave(f);
          }
          onFrame(FrameCodec.decodeFrame(local.flip()));
          return Behaviors.same();
        })
        .build();
  }

  private void onFrame(Wire.InboundFrame f) {
    Peer peer = fabric.peer(f.senderUid());
    if (peer == null || peer.removed()) {
      fabric.stats.framesDropped++; // no directory yet, or gone: the sender's sync frame recovers the credit
      return;
    }
    Rx rx = senders.get(f.senderUid());
    if (rx == null || rx.peer != peer) {
      rx = new Rx(peer);
      senders.put(f.senderUid(), rx);
    }
    fabric.stats.framesReceived++;
    if (f.units().length == 0) {
      if (f.seq() > rx.lastSeq) {
        drop(rx);
        rx.lastSeq = f.seq();
      }
      grant(rx);
      return;
    }
    if (f.seq() != rx.lastSeq + 1) {
      drop(rx); // frames lost between: the message in reassembly lost a segment
    }
    rx.lastSeq = f.seq();
    for (Wire.Decoded d : f.units()) {
      unit(rx, d);
    }
    flushBatch();
    if (rx.lastSeq - rx.granted >= fabric.settings().grantEvery()) {
      grant(rx);
    }
  }

  private void unit(Rx rx, Wire.Decoded d) {
    boolean bad = (d.flags() & FrameCodec.BAD_KEY) != 0;
    switch (d.kind()) {
      case Wire.WHOLE -> {
        drop(rx);
        deliver(rx, d, FrameCodec.complete(d.header(), d.total(), d.data(), bad));
      }
      case Wire.FIRST -> {
        drop(rx);
        rx.first = d;
        rx.data = new byte[d.total()];
        rx.bad = bad;
        append(rx, d.data());
      }
      default -> {
        if (rx.first == null) {
          fabric.stats.segmentsDropped++;
          return;
        }
        rx.bad |= bad;
        if (!append(rx, d.data())) {
          return;
        }
        if (d.kind() == Wire.LAST) {
          Wire.Decoded first = rx.first;
          if (rx.bad || rx.filled == rx.data.length) {
            deliver(rx, first, FrameCodec.complete(first.header(), first.total(), rx.data, rx.bad));
            clear(rx);
          } else {
            drop(rx);
          }
        }
      }
    }
  }

  private boolean append(Rx rx, byte[] seg) {
    if (rx.bad) {
      return true; // the message is flagged: its bytes do not matter any more
    }
    if (rx.filled + seg.length > rx.data.length) {
      drop(rx);
      return false;
    }
    System.arraycopy(seg, 0, rx.data, rx.filled, seg.length);
    rx.filled += seg.length;
    return true;
  }

  private void drop(Rx rx) {
    if (rx.first != null) {
      fabric.stats.messagesLost++;
    }
    clear(rx);
  }

  private static void clear(Rx rx) {
    rx.first = null;
    rx.data = null;
    rx.filled = 0;
    rx.bad = false;
  }

  private void deliver(Rx rx, Wire.Decoded d, Packet p) {
    ClusterDevice dev = fabric.localDevice(d.dstDevice());
    PacketSink sink = dev == null ? null : dev.sink(p.destQpn());
    if (sink == null || d.dstPort() < 1 || d.dstPort() > dev.portCount()
        || dev.portState(d.dstPort()) != PortState.ACTIVE) {
      fabric.stats.packetsDropped++; // no such QP, or its port is down: lost, as on a fabric
      return;
    }
    ClusterEndpoint from = rx.from.computeIfAbsent(
        new FromKey(d.srcDevice(), d.srcPort(), d.dstDevice(), d.dstPort()), k -> {
          Gid gid = ClusterGids.gid(rx.peer.uid, k.srcDevice(), k.srcPort());
          Route r = fabric.route(gid);
          int mtu = Math.min(dev.activeMtu().bytes(), r == null ? Integer.MAX_VALUE : r.mtu());
          return new ClusterEndpoint(rx.peer, k.srcDevice(), k.srcPort(), gid, dev, k.dstPort(), mtu);
        });
    if (sink != batchSink || from != batchFrom) {
      flushBatch();
      batchSink = sink;
      batchFrom = from;
    }
    if (batchCount == batch.length) {
      batch = Arrays.copyOf(batch, batch.length * 2);
    }
    batch[batchCount++] = p;
  }

  private void flushBatch() {
    if (batchCount == 0) {
      return;
    }
    int n = batchCount;
    batchCount = 0;
    fabric.stats.packetsDelivered += n;
    try {
      batchSink.deliver(batchFrom, batch, n);
    } catch (RuntimeException e) {
      // The MDC of the midlayer's lines (midlayer.device, .port, .qp: the receiving QP), set here only, as the
      // engine does: none per frame on the data path. Pekko clears the MDC after each message.
      org.slf4j.MDC.put("midlayer.device", batchFrom.localDevice().name());
      org.slf4j.MDC.put("midlayer.port", String.valueOf(batchFrom.localPort()));
      org.slf4j.MDC.put("midlayer.qp", String.valueOf(batch[0].destQpn()));
      ctx.getLog().error("packet sink {} failed; its packets are lost", batchSink, e);
    }
    Arrays.fill(batch, 0, n, null);
    batchSink = null;
    batchFrom = null;
  }

  private void grant(Rx rx) {
    rx.granted = rx.lastSeq;
    var control = rx.peer.control();
    if (control != null) {
      control.tell(new Wire.Credit(fabric.selfUid(), rx.lastSeq));
    }
  }
}
