package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Packet;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The sender of one peer node: drains the peer's queue into frames, one Artery message each, and spends a
 * credit per frame. A frame leaves when it is full or when the queue ran empty (a lone packet leaves at once,
 * no timer). Messages longer than the path MTU go as MTU segments, consecutive in the stream, which is all
 * the receiver needs to reassemble them (Artery keeps the order of one sender-recipient pair). Two states:
 * {@link #open()} (credits left) and {@link #blocked()} (none: packets wait in the queue, never dropped; a sync
 * frame after {@code credit-probe-interval} recovers the credits of frames Artery dropped).
 *
 * <p>Runs on the fabric's dispatcher; everything here is confined to the actor.
 */
final class Outbound {
  sealed interface Command permits Doorbell, Grant, Probe {}

  /** The queue went idle→busy. */
  enum Doorbell implements Command {
    INSTANCE
  }

  /** The peer consumed every frame up to seq {@code upTo}. */
  record Grant(long upTo) implements Command {}

  /** Blocked for a probe interval without a grant. */
  enum Probe implements Command {
    INSTANCE
  }

  private final Peer peer;
  private final long selfUid;
  private final ClusterSettings settings;
  private final TimerScheduler<Command> timers;
  private final int budget;
  private List<Wire.Unit> units = new ArrayList<>();
  private int bytes;
  private Outgoing cur;
  private long curOff;
  private long sentSeq;
  private long grantedSeq;
  private final Behavior<Command> open;
  private final Behavior<Command> blocked;

  private Outbound(Peer peer, long selfUid, ClusterSettings settings, TimerScheduler<Command> timers) {
    this.peer = peer;
    this.selfUid = selfUid;
    this.settings = settings;
    this.timers = timers;
    this.budget = settings.frameSize() - FrameCodec.FRAME_HEADER;
    this.open = open();
    this.blocked = blocked();
  }

  static Behavior<Command> create(Peer peer, long selfUid, ClusterSettings settings) {
    return Behaviors.withTimers(timers -> new Outbound(peer, selfUid, settings, timers).open);
  }

  private Behavior<Command> open() {
    return Behaviors.receive(Command.class)
        .onMessageEquals(Doorbell.INSTANCE, this::pump)
        .onMessage(Grant.class, g -> {
          granted(g);
          return Behaviors.same();
        })
        .onMessageEquals(Probe.INSTANCE, Behaviors::same)
        .build();
  }

  private Behavior<Command> blocked() {
    return Behaviors.receive(Command.class)
        // The queue's scheduled flag stays set while blocked, so no doorbell comes but a stale one.
        .onMessageEquals(Doorbell.INSTANCE, Behaviors::same)
        .onMessage(Grant.class, g -> {
          granted(g);
          if (!hasCredit()) {
            return Behaviors.same();
          }
          timers.cancel(Probe.INSTANCE);
          return pump();
        })
        .onMessageEquals(Probe.INSTANCE, () -> {
          // Same seq as the last frame: the receiver, having seen it, grants everything up to it; frames lost
          // on the way are granted too, as the lane keeps order.
          peer.syncFrames++;
          peer.data().tell(new Wire.Frame(selfUid, sentSeq, new Wire.Unit[0], 0, FrameCodec.FRAME_HEADER));
          return Behaviors.same();
        })
        .build();
  }

  private void granted(Grant g) {
    if (g.upTo() > grantedSeq) {
      grantedSeq = Math.min(g.upTo(), sentSeq);
      peer.inFlight = (int) (sentSeq - grantedSeq);
    }
  }

  private boolean hasCredit() {
    return sentSeq - grantedSeq < settings.credits();
  }

  /** Drains the queue into frames until it is empty (then idle) or the credits ran out (then blocked). */
  private Behavior<Command> pump() {
    if (peer.removed()) {
      return Behaviors.stopped();
    }
    while (true) {
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
            return block();
          }
          units.add(new Wire.Unit(cur, kind, curOff, seg));
          bytes += need;
          curOff += seg;
        } while (curOff < total);
        cur = null;
      }
      // The queue ran empty: what the frame holds leaves now.
      if (!units.isEmpty() && !emit()) {
        return block();
      }
      peer.scheduled.set(false);
      // A link may have offered between our last poll and the reset: take it ourselves if no doorbell came.
      if (peer.queue.isEmpty() || !peer.scheduled.compareAndSet(false, true)) {
        return open;
      }
    }
  }

  private boolean emit() {
    if (!hasCredit()) {
      return false;
    }
    sentSeq++;
    Wire.Unit[] array = units.toArray(new Wire.Unit[0]);
    peer.data().tell(new Wire.Frame(selfUid, sentSeq, array, array.length, bytes + FrameCodec.FRAME_HEADER));
    peer.framesSent++;
    peer.unitsSent += array.length;
    int inFlight = (int) (sentSeq - grantedSeq);
    peer.inFlight = inFlight;
    if (inFlight > peer.maxInFlight) {
      peer.maxInFlight = inFlight;
    }
    units = new ArrayList<>();
    bytes = 0;
    return true;
  }

  private Behavior<Command> block() {
    timers.startTimerWithFixedDelay(Probe.INSTANCE, settings.creditProbe());
    return blocked;
  }
}
