package dev.midlayer.drivers.cluster;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * One node of the cluster as this node's data path sees it (this node included): the packets queued for it,
 * its sender actor, its actors, and whether it is Up. Shared by the QPs' links (which offer to the queue),
 * the sender (which drains it) and the directory actor (which updates the rest).
 *
 * <p>Threading: every method is lock-free and never blocks; any thread.
 */
final class Peer {
  final long uid;
  final boolean self;
  /** The packets for this node, in the order the links offered them. Unbounded: credits never drop. */
  final Queue<Outgoing> queue = new ConcurrentLinkedQueue<>();
  /**
   * True from a doorbell until the sender found the queue empty (or while it is out of credits): whoever sets
   * it runs the {@link FrameSender}.
   */
  final AtomicBoolean scheduled = new AtomicBoolean();
  /** Packets offered since the start, for tests and reports. */
  final AtomicLong offered = new AtomicLong();
  private volatile ActorRef<Outbound.Command> outbound;
  private volatile FrameSender sender;
  private volatile ActorRef<NodeActor.Command> control;
  private volatile ActorRef<Inbound.Command> data;
  private volatile boolean up;
  private volatile boolean removed;

  /** Counters the sender keeps (its one writer), for tests and reports. */
  volatile long framesSent;
  volatile long syncFrames;
  volatile long unitsSent;
  /** Frames sent and not granted back now, and the most there ever were. */
  volatile int inFlight;
  volatile int maxInFlight;

  Peer(long uid, boolean self) {
    this.uid = uid;
    this.self = self;
  }

  /** Set once, right after the credit actor is spawned (before the peer is published). */
  void attach(FrameSender sender, ActorRef<Outbound.Command> outbound) {
    this.sender = sender;
    this.outbound = outbound;
  }

  /** Queues {@code o}; the caller {@link #ring()}s once its burst is queued. Lock-free. */
  void offer(Outgoing o) {
    queue.offer(o);
    offered.incrementAndGet();
  }

  /**
   * If the sender was idle, runs it now on the caller's thread: the queued packets leave as frames before this
   * returns, or wait for credits. Lock-free, never blocks.
   */
  void ring() {
    if (!queue.isEmpty() && scheduled.compareAndSet(false, true)) {
      sender.pump();
    }
  }

  FrameSender sender() {
    return sender;
  }

  ActorRef<Outbound.Command> outbound() {
    return outbound;
  }

  void actors(ActorRef<NodeActor.Command> control, ActorRef<Inbound.Command> data) {
    this.control = control;
    this.data = data;
  }

  ActorRef<NodeActor.Command> control() {
    return control;
  }

  ActorRef<Inbound.Command> data() {
    return data;
  }

  /** True while the node is an Up member and was not removed. */
  boolean up() {
    return up && !removed;
  }

  void up(boolean up) {
    this.up = up;
  }

  boolean removed() {
    return removed;
  }

  /** The node left the cluster: its routes are gone and whatever is queued for it is dropped. */
  void remove() {
    removed = true;
    queue.clear();
  }

  @Override
  public String toString() {
    return "peer " + Long.toHexString(uid) + (self ? " (self)" : "");
  }
}
