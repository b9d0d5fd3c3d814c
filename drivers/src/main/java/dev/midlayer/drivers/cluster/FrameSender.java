package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Packet;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Drains one peer node's queue into frames, one Artery message each, and spends a credit per frame. A frame
 * leaves when it is full or when the queue ran empty (a lone packet leaves at once, no timer). Messages longer
 * than the path MTU go as MTU segments, consecutive in the stream, which is all the receiver needs to reassemble
 * them (Artery keeps the order of one sender-recipient pair).
 *
 * <p>Who runs it: whoever rings the peer's doorbell while the queue is idle, {@link Peer#scheduled} false→true,
 * runs {@link #pump()} at once on its own thread, usually a QP's engine at the end of its turn. There is no actor
 * hop between a QP and Artery: a hop costs a thread wake-up per packet burst, which on a small machine is most of
 * a round trip. The flag makes the holder the only one touching the frame being built; its release and the next
 * holder's acquire order everything the pump wrote.
 *
 * <p>Out of credits, the pump sets {@link #blocked} and returns with the doorbell still held, so the packets
 * wait in the queue (never dropped, never blocking) and nobody else pumps. The peer's {@link Outbound} actor takes
 * the pump back when a grant frees a credit, and sends a sync frame after {@code credit-probe-interval} without
 * one. Either side may clear {@link #blocked}, by compare-and-set, so exactly one of them continues.
 *
 * <p>Threading: {@link #pump()} for the doorbell's holder only; {@link #granted} for the {@link Outbound} actor;
 * none blocks.
 */
final class FrameSender {
  private final Peer peer;
  private final long selfUid;
  private final ClusterSettings settings;
  private final int budget;
  /** Set while out of credits; the doorbell stays held meanwhile. */
  final AtomicBoolean blocked = new AtomicBoolean();
  // The frame being built and the packet being segmented: the doorbell holder's.
  private List<Wire.Unit> units = new ArrayList<>();
  private int bytes;
  private Outgoing cur;
  private long curOff;
  /** Frames sent (the last frame's seq); written by the doorbell holder, read by the actor while blocked. */
  private volatile long sentSeq;
  /** Frames the peer granted back; written by the actor only. */
  private volatile long grantedSeq;

  FrameSender(Peer peer, long selfUid, ClusterSettings settings) {
    this.peer = peer;
    this.selfUid = selfUid;
    this.settings = settings;
    this.budget = settings.frameSize() - FrameCodec.FRAME_HEADER;
  }

  /**
   * Drains the queue into frames until it is empty (then the doorbell is released) or the credits ran out (then
   * {@link #blocked} is set and the actor told). Never blocks; only the doorbell's holder calls it.
   */
  void pump() {
    while (true) {
      if (peer.removed()) {
        // The node left: what is queued for it is dropped (RC retransmits elsewhere or fails), the doorbell
        // stays held so nobody queues work for a sender that is gone.
        units = new ArrayList<>();
        bytes = 0;
        cur = null;
        return;
      }
      if (!drain()) {
        blocked.set(true);
        peer.outbound().tell(Outbound.Blocked.INSTANCE);
        // A grant may have come before the flag was set, and the actor then saw nothing to unblock.
        if (hasCredit() && blocked.compareAndSet(true, false)) {
          continue;
        }
        return;
      }
      peer.scheduled.set(false);
      // A link may have offered between our last poll and the release: take it ourselves if no one rang.
      if (peer.queue.isEmpty() || !peer.scheduled.compareAndSet(false, true)) {
        return;
      }
    }
  }

  /**
   * The peer consumed every frame up to {@code upTo}; true if that frees a credit while blocked and this caller
   * now holds the pump (it must call {@link #pump()}). The actor's thread.
   */
  boolean granted(long upTo) {
    if (upTo > grantedSeq) {
      // A grant covers only frames that were sent: sentSeq was written before the frame it grants went out.
      grantedSeq = Math.min(upTo, sentSeq);
      peer.inFlight = (int) (sentSeq - grantedSeq);
    }
    return blocked.get() && hasCredit() && blocked.compareAndSet(true, false);
  }

  /** A sync frame repeating the last seq, for the actor's probe while {@link #blocked}. */
  Wire.Frame syncFrame() {
    return new Wire.Frame(selfUid, sentSeq, new Wire.Unit[0], 0, FrameCodec.FRAME_HEADER);
  }

  private boolean hasCredit() {
    return sentSeq - grantedSeq < settings.credits();
  }

  /** Frames until the queue is empty (true) or out of credits with a frame to send (false). */
  private boolean drain() {
    while (true) {
      if (cur == null) {
        cur = peer.queue.poll();
        if (cur == null) {
          break;
        }
        curOff = 0;
      }
      Packet p = cur.packet();
      long total = p.payloadLength();
      int mtu = cur.to().mtu();
      do {
        int seg = (int) Math.min(mtu, total - curOff);
        int kind = total <= mtu ? Wire.WHOLE
            : curOff == 0 ? Wire.FIRST : curOff + seg == total ? Wire.LAST : Wire.MIDDLE;
        int need = FrameCodec.unitBytes(p, kind, seg);
        if (bytes + need > budget && !units.isEmpty() && !emit()) {
          return false;
        }
        units.add(new Wire.Unit(cur, kind, curOff, seg));
        bytes += need;
        curOff += seg;
      } while (curOff < total);
      cur = null;
    }
    // The queue ran empty: what the frame holds leaves now.
    return units.isEmpty() || emit();
  }

  private boolean emit() {
    if (!hasCredit()) {
      return false;
    }
    long seq = sentSeq + 1;
    sentSeq = seq;
    Wire.Unit[] array = units.toArray(new Wire.Unit[0]);
    peer.data().tell(new Wire.Frame(selfUid, seq, array, array.length, bytes + FrameCodec.FRAME_HEADER));
    peer.framesSent++;
    peer.unitsSent += array.length;
    int inFlight = (int) (seq - grantedSeq);
    peer.inFlight = inFlight;
    if (inFlight > peer.maxInFlight) {
      peer.maxInFlight = inFlight;
    }
    units = new ArrayList<>();
    bytes = 0;
    return true;
  }
}
