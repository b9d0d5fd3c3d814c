package dev.midlayer.drivers.loopback;

import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultDecision;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;

/**
 * The thin part of fault injection that belongs to the loopback driver: applies a {@link FaultPlan}'s
 * decisions to the messages one {@link QpActor} is about to tell a peer's actor. The decisions themselves come
 * from {@code dev.midlayer.drivers.fault}; this class only drops, repeats, schedules or holds the message.
 * Used only when a plan is installed on the fabric, so the path without faults never reaches it.
 *
 * <p>A {@link QpActor.Deliver} carries a batch of WRs; each one is a packet here: the link decides per WR
 * (keyed by its PSN) and sends the runs of passing WRs as one message each, so a decision never depends on
 * how the posts happened to be batched. Delayed ones go with a scheduled tell (the system scheduler: Pekko's
 * manual clock drives it in tests), a reordered one waits in the actor's one hold slot for the next message
 * the actor sends, or for its hold time. Nothing sleeps.
 *
 * <p>Threading: owned by one QP actor and used only in its turns.
 */
final class FaultLink {
  private static final IntUnaryOperator FIRST_ATTEMPT = psn -> 0;

  private final ActorContext<QpActor.Command> ctx;
  private final double timerScale;

  /** The reordered message waiting for the next one, its target and its token (for the hold timer). */
  private ActorRef<QpActor.Command> heldTo;
  private QpActor.Command held;
  private long heldToken;

  /** The attempts of the responder's acknowledgements: how often in a row this PSN was (N)ACKed. */
  private int lastAckPsn = -1;
  private int ackAttempt;
  private int lastNakPsn = -1;
  private int nakAttempt;

  FaultLink(ActorContext<QpActor.Command> ctx, double timerScale) {
    this.ctx = ctx;
    this.timerScale = timerScale;
  }

  /** The attempt function of unreliable packets: every packet is sent once. */
  static IntUnaryOperator firstAttempt() {
    return FIRST_ATTEMPT;
  }

  /**
   * Sends {@code d} to {@code to}, each of its entries a DATA packet with PSN {@code d.firstPsn() + i}, whose
   * attempt is {@code attemptOf(psn)}.
   */
  void sendData(FaultPlan plan, ActorRef<QpActor.Command> to, QpActor.Deliver d, Direction dir, int srcQpn,
      int dstQpn, IntUnaryOperator attemptOf) {
    int n = d.count();
    int runStart = 0;
    for (int i = 0; i < n; i++) {
      int psn = QpActor.psnAdd(d.firstPsn(), i);
      FaultDecision decision = plan.apply(dir, srcQpn, dstQpn, psn, PacketKind.DATA, attemptOf.applyAsInt(psn));
      if (decision.passes()) {
        continue;
      }
      if (i > runStart) {
        emit(to, slice(d, runStart, i));
      }
      applyTo(decision, to, slice(d, i, i + 1));
      runStart = i + 1;
    }
    if (runStart < n) {
      emit(to, runStart == 0 ? d : slice(d, runStart, n));
    }
  }

  /** Sends an ACK ({@code nak} false) or NAK of {@code psn} to {@code to}. */
  void sendReply(FaultPlan plan, ActorRef<QpActor.Command> to, QpActor.Command reply, boolean nak, int psn,
      Direction dir, int srcQpn, int dstQpn) {
    int attempt;
    if (nak) {
      attempt = psn == lastNakPsn ? ++nakAttempt : (nakAttempt = 0);
      lastNakPsn = psn;
    } else {
      attempt = psn == lastAckPsn ? ++ackAttempt : (ackAttempt = 0);
      lastAckPsn = psn;
    }
    FaultDecision decision = plan.apply(dir, srcQpn, dstQpn, psn, nak ? PacketKind.NAK : PacketKind.ACK, attempt);
    applyTo(decision, to, reply);
  }

  /** The hold timer of a reordered message fired: release it if it is still held. */
  void release(long token) {
    if (held != null && heldToken == token) {
      releaseHeld();
    }
  }

  private void applyTo(FaultDecision decision, ActorRef<QpActor.Command> to, QpActor.Command msg) {
    if (decision instanceof FaultDecision.Pass) {
      emit(to, msg);
    } else if (decision instanceof FaultDecision.Drop) {
      return; // lost on the wire
    } else if (decision instanceof FaultDecision.Duplicate) {
      emit(to, msg);
      to.tell(msg);
    } else if (decision instanceof FaultDecision.Delay delay) {
      long nanos = scaled(delay.nanos());
      if (nanos == 0) {
        emit(to, msg);
      } else {
        ctx.scheduleOnce(Duration.ofNanos(nanos), to, msg);
      }
    } else if (decision instanceof FaultDecision.Reorder reorder) {
      if (held != null) {
        releaseHeld(); // one slot: the packet held before goes first (nothing overtook it)
      }
      heldTo = to;
      held = msg;
      long token = ++heldToken;
      ctx.scheduleOnce(Duration.ofNanos(Math.max(1, scaled(reorder.maxHoldNanos()))), ctx.getSelf(),
          new QpActor.LinkRelease(token));
    }
  }

  /** Tells {@code msg}, then releases a message held for reordering: it is overtaken by this one. */
  private void emit(ActorRef<QpActor.Command> to, QpActor.Command msg) {
    to.tell(msg);
    if (held != null) {
      releaseHeld();
    }
  }

  private void releaseHeld() {
    ActorRef<QpActor.Command> target = heldTo;
    QpActor.Command msg = held;
    heldTo = null;
    held = null;
    target.tell(msg);
  }

  private long scaled(long nanos) {
    return nanos == 0 ? 0 : Math.max(1, (long) (nanos * timerScale));
  }

  private static QpActor.Deliver slice(QpActor.Deliver d, int from, int to) {
    return new QpActor.Deliver(d.from(), d.gen(), QpActor.psnAdd(d.firstPsn(), from),
        Arrays.copyOfRange(d.entries(), from, to), to - from);
  }
}
