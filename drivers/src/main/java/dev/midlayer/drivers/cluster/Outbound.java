package dev.midlayer.drivers.cluster;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The credits of one peer node's {@link FrameSender}: takes grants, and when the sender is
 * {@link FrameSender#blocked blocked} and a grant frees a credit, runs its pump here. While blocked without a
 * grant for {@code credit-probe-interval} it sends a sync frame (same seq as the last frame: the receiver, having
 * seen it, grants everything up to it; frames lost on the way are granted too, as the lane keeps order), so that
 * frames Artery dropped at an association restart do not keep their credits forever.
 *
 * <p>Runs on the fabric's dispatcher; the timer is confined to the actor.
 */
final class Outbound {
  sealed interface Command permits Grant, Blocked, Probe {}

  /** The peer consumed every frame up to seq {@code upTo}. */
  record Grant(long upTo) implements Command {}

  /** The sender ran out of credits: arm the probe. */
  enum Blocked implements Command {
    INSTANCE
  }

  /** Blocked for a probe interval without a grant. */
  enum Probe implements Command {
    INSTANCE
  }

  private final Peer peer;
  private final ClusterSettings settings;
  private final TimerScheduler<Command> timers;

  private Outbound(Peer peer, ClusterSettings settings, TimerScheduler<Command> timers) {
    this.peer = peer;
    this.settings = settings;
    this.timers = timers;
  }

  static Behavior<Command> create(Peer peer, ClusterSettings settings) {
    return Behaviors.withTimers(timers -> new Outbound(peer, settings, timers).behavior());
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Grant.class, g -> {
          if (peer.sender().granted(g.upTo())) {
            timers.cancel(Probe.INSTANCE);
            peer.sender().pump();
          }
          return Behaviors.same();
        })
        .onMessageEquals(Blocked.INSTANCE, () -> {
          if (peer.sender().blocked.get() && !timers.isTimerActive(Probe.INSTANCE)) {
            timers.startTimerWithFixedDelay(Probe.INSTANCE, settings.creditProbe());
          }
          return Behaviors.same();
        })
        .onMessageEquals(Probe.INSTANCE, () -> {
          if (!peer.sender().blocked.get()) {
            timers.cancel(Probe.INSTANCE);
            return Behaviors.same();
          }
          peer.syncFrames++;
          peer.data().tell(peer.sender().syncFrame());
          return Behaviors.same();
        })
        .build();
  }
}
