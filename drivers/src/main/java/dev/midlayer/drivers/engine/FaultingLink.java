package dev.midlayer.drivers.engine;

import dev.midlayer.drivers.fault.FaultDecision;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import dev.midlayer.ib.AhAttr;

/**
 * Where fault injection plugs into every software driver: a {@link Link} in front of the driver's own that
 * applies a {@link FaultPlan}'s decision to each packet the engine sends. The decisions come from
 * {@code dev.midlayer.drivers.fault} (a pure function of seed, direction, packet and attempt, so runs replay);
 * this class only drops, repeats, delays or holds the packet. Delayed packets and the release of a held one
 * come back to the engine as self-messages scheduled on the actor system's scheduler (Pekko's manual clock
 * drives them in tests), and leave through the driver's link in that turn. Nothing sleeps.
 *
 * <p>Used only while a plan is installed, so the path without faults never reaches it.
 *
 * <p>Threading: owned by one QP's engine and used only in its turns.
 */
final class FaultingLink implements Link {
  private final QpEngine engine;
  private final Link inner;
  private FaultPlan plan;

  /** The reordered packet waiting for the next one, its target and its token (for the hold timer). */
  private Endpoint heldTo;
  private Packet held;
  private long heldToken;

  /** The attempts of the responder's acknowledgements: how often in a row this PSN was (N)ACKed. */
  private int lastAckPsn = -1;
  private int ackAttempt;
  private int lastNakPsn = -1;
  private int nakAttempt;

  FaultingLink(QpEngine engine, Link inner) {
    this.engine = engine;
    this.inner = inner;
  }

  /** The plan to apply from now on (the fabric may replace it at any time). */
  FaultingLink plan(FaultPlan p) {
    this.plan = p;
    return this;
  }

  @Override
  public Endpoint connected() {
    return inner.connected();
  }

  @Override
  public Endpoint datagram(AhAttr ah, int destQpn) {
    return inner.datagram(ah, destQpn);
  }

  @Override
  public boolean sharesMemory() {
    return inner.sharesMemory();
  }

  @Override
  public void send(Endpoint to, Packet p, int attempt) {
    PacketKind kind;
    if (p.opcode().isRequest()) {
      kind = PacketKind.DATA;
    } else if (Aeth.isAck(p.aeth())) {
      kind = PacketKind.ACK;
      attempt = p.psn() == lastAckPsn ? ++ackAttempt : (ackAttempt = 0);
      lastAckPsn = p.psn();
    } else {
      kind = PacketKind.NAK;
      attempt = p.psn() == lastNakPsn ? ++nakAttempt : (nakAttempt = 0);
      lastNakPsn = p.psn();
    }
    FaultDecision decision = plan.apply(to.direction(), p.srcQpn(), p.destQpn(), p.psn(), kind, attempt);
    if (decision instanceof FaultDecision.Pass) {
      emit(to, p);
    } else if (decision instanceof FaultDecision.Drop) {
      return; // lost on the wire
    } else if (decision instanceof FaultDecision.Duplicate) {
      emit(to, p);
      inner.send(to, p, attempt);
    } else if (decision instanceof FaultDecision.Delay delay) {
      long nanos = scaled(delay.nanos());
      if (nanos == 0) {
        emit(to, p);
      } else {
        engine.scheduleDelayed(nanos, to, p);
      }
    } else if (decision instanceof FaultDecision.Reorder reorder) {
      if (held != null) {
        releaseHeld(); // one slot: the packet held before goes first (nothing overtook it)
      }
      heldTo = to;
      held = p;
      engine.scheduleHoldRelease(Math.max(1, scaled(reorder.maxHoldNanos())), ++heldToken);
    }
  }

  @Override
  public void flush() {
    inner.flush();
  }

  @Override
  public void pathChanged() {
    inner.pathChanged();
  }

  /** A delayed packet's time came: it leaves now (the engine flushes after). */
  void deliverDelayed(Endpoint to, Packet p) {
    inner.send(to, p, 0);
  }

  /** The hold timer of a reordered packet fired: release it if it is still held. */
  void release(long token) {
    if (held != null && heldToken == token) {
      releaseHeld();
    }
  }

  /** Sends {@code p}, then releases a packet held for reordering: it is overtaken by this one. */
  private void emit(Endpoint to, Packet p) {
    inner.send(to, p, 0);
    if (held != null) {
      releaseHeld();
    }
  }

  private void releaseHeld() {
    Endpoint target = heldTo;
    Packet p = held;
    heldTo = null;
    held = null;
    inner.send(target, p, 0);
  }

  private long scaled(long nanos) {
    return nanos == 0 ? 0 : Math.max(1, (long) (nanos * engine.settings().timerScale()));
  }
}
