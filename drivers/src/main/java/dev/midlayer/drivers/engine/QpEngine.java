package dev.midlayer.drivers.engine;

import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpState;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The soft transport engine of one QP, shared by every software driver: one actor that drives the QP's IB
 * roles, each in its own class as Linux rxe splits them ({@link Requester}, {@link Completer},
 * {@link Responder} with the {@link RdmaResponder}, {@link LocalOperations}, {@link CompletionWriter}), so the
 * QP's transport state is only ever touched by one thread at a time. Posts wake it with a doorbell (only when
 * the send queue goes from idle to busy); it takes the whole burst and hands the packets to the QP's
 * {@link Link}, which the driver provides. Every completion is produced here, in this actor's turn: never
 * inside a consumer's post.
 *
 * <p>RC follows IB's reliable service (ib-semantics §8, rxe's engine): PSNs, cumulative ACKs, RNR NAK with the
 * responder's timer and {@code rnr_retry} (7 = forever), ACK timeout with {@code retry_cnt} retries, responder
 * errors NAKed and both QPs moved to ERR, duplicates answered again and never executed twice. UC and UD are
 * unreliable: the payload is copied into the packet, the send completes when it leaves, and whatever goes
 * wrong at the responder drops the message silently.
 */
public final class QpEngine extends AbstractBehavior<QpEngine.Command> {

  /** The engine's protocol. */
  public sealed interface Command {}

  /** Singleton signals (telling one allocates nothing). */
  public enum Signal implements Command {
    /** The send queue went from idle to busy. */
    SQ_DOORBELL,
    /** A receive was posted in ERR. */
    FLUSH,
    /** The QP was destroyed. */
    STOP,
    /** The device raised DEVICE_FATAL and moved this QP to ERR: flush it. */
    DEVICE_FATAL
  }

  /** The midlayer applied a modify; {@code applied} completes once this actor has acted on it. */
  public record Modified(QpState from, QpState to, CompletableFuture<Done> applied) implements Command {}

  /**
   * Packets from a link for this QP, in the order they were sent: {@code packets[0..count)}. Requests and
   * answers may be mixed; {@code from} is where this QP's answers to the requests go (null if the packets
   * need none).
   */
  public record Inbound(Endpoint from, Packet[] packets, int count) implements Command {}

  private record AckTimeout(long epoch) implements Command {}

  private record RnrResume(long epoch) implements Command {}

  /** A packet a fault plan delayed: it leaves now. */
  private record DelayedPacket(Endpoint to, Packet packet) implements Command {}

  /** The hold time of a packet held for reordering is over. */
  private record HoldRelease(long token) implements Command {}

  static Behavior<Command> create(EngineQp driver, EngineSettings settings) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(t -> new QpEngine(ctx, t, driver, settings)));
  }

  private final TimerScheduler<Command> timers;
  private final EngineQp driver;
  private final QpContext qp;
  private final EngineSettings settings;
  private final Link link;
  /** Applies a fault plan in front of the link; made when the driver first has a plan. */
  private FaultingLink faulting;
  /** The link of this turn: {@link #link}, or {@link #faulting} while a plan is installed. */
  private Link out;
  private boolean sentThisTurn;

  private final EngineCounters counters;
  private final CompletionWriter writer;
  private final Completer completer;
  private final Requester requester;
  private final Responder responder;
  /** Bumped by every flush and reset: answers to older requests are ignored. */
  private long epoch;
  private boolean drainedReported;
  /** The cause {@link #noteErrorCause} kept for the next {@link #enterError}, or null. */
  private String errorCause;

  private QpEngine(ActorContext<Command> ctx, TimerScheduler<Command> timers, EngineQp driver,
      EngineSettings settings) {
    super(ctx);
    this.timers = timers;
    this.driver = driver;
    this.qp = driver.qp();
    this.settings = settings;
    this.link = driver.link();
    this.out = link;
    this.counters = driver.counters;
    this.writer = new CompletionWriter(this, qp);
    this.completer = new Completer(this, writer);
    this.requester = new Requester(this, completer, writer);
    this.completer.requester(requester);
    this.responder = new Responder(this, writer);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Signal.SQ_DOORBELL, this::onDoorbell)
        .onMessageEquals(Signal.FLUSH, this::onFlushSignal)
        .onMessageEquals(Signal.STOP, Behaviors::stopped)
        .onMessageEquals(Signal.DEVICE_FATAL, this::onDeviceFatal)
        .onMessage(Inbound.class, this::onInbound)
        .onMessage(Modified.class, this::onModified)
        .onMessage(AckTimeout.class, this::onAckTimeout)
        .onMessage(RnrResume.class, this::onRnrResume)
        .onMessage(DelayedPacket.class, this::onDelayedPacket)
        .onMessage(HoldRelease.class, this::onHoldRelease)
        .build();
  }

  // ================= what the roles share =================

  QpContext qp() {
    return qp;
  }

  EngineSettings settings() {
    return settings;
  }

  long epoch() {
    return epoch;
  }

  /** The link of this turn (with the fault plan in front of it while one is installed). */
  Link link() {
    return out;
  }

  PortState portState(int port) {
    return driver.device().portState(port);
  }

  Gid gid(int port) {
    return driver.device().gid(port);
  }

  int lid(int port) {
    return driver.device().lid(port);
  }

  /** Hands {@code p} to the link of this turn; the turn ends with a flush. */
  void send(Endpoint to, Packet p, int attempt) {
    sentThisTurn = true;
    counters.countSent(p, attempt);
    if (!p.opcode().isRequest() && Aeth.isNak(p.aeth()) && Aeth.value(p.aeth()) != Aeth.NAK_PSN_SEQUENCE_ERROR) {
      noteErrorCause("answered NAK " + Aeth.value(p.aeth()) + " to the request with PSN " + p.psn());
    }
    out.send(to, p, attempt);
  }

  /** This QP's transport counters (the roles count what only they see: duplicates, timeouts, errors). */
  EngineCounters counters() {
    return counters;
  }

  void startAckTimer(long nanos) {
    timers.startSingleTimer("ack", new AckTimeout(epoch), Duration.ofNanos(nanos));
  }

  void cancelAckTimer() {
    timers.cancel("ack");
  }

  void startRnrTimer(long nanos) {
    timers.startSingleTimer("rnr", new RnrResume(epoch), Duration.ofNanos(nanos));
  }

  void scheduleDelayed(long nanos, Endpoint to, Packet p) {
    getContext().scheduleOnce(Duration.ofNanos(nanos), getContext().getSelf(), new DelayedPacket(to, p));
  }

  void scheduleHoldRelease(long nanos, long token) {
    getContext().scheduleOnce(Duration.ofNanos(nanos), getContext().getSelf(), new HoldRelease(token));
  }

  // ================= turns =================

  /**
   * Every turn that may copy registered memory is bracketed, so the memory fence can wait for it; it picks the
   * link for the turn (one volatile read of the fault plan) and flushes it at the end.
   */
  private void beginTurn() {
    driver.transferBegin();
    FaultPlan plan = settings.faultPlan().get();
    if (plan == null) {
      out = link;
    } else {
      if (faulting == null) {
        faulting = new FaultingLink(this, link);
      }
      out = faulting.plan(plan);
    }
  }

  private void endTurn() {
    errorCause = null; // a cause not followed by ERR in its turn (UD, SQE) is no cause
    try {
      writer.finishUnsignaled();
      if (sentThisTurn) {
        sentThisTurn = false;
        out.flush();
      }
    } finally {
      driver.transferEnd();
    }
  }

  private Behavior<Command> onDoorbell() {
    beginTurn();
    try {
      requester.drain();
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  /** The send queue may go on (an ACK freed a held-back WR, the RNR wait is over): from inside a turn. */
  void drainSendQueue() {
    requester.drain();
  }

  private Behavior<Command> onInbound(Inbound in) {
    beginTurn();
    try {
      Packet[] packets = in.packets();
      int n = in.count();
      for (int k = 0; k < n; k++) {
        counters.countReceived(packets[k]);
      }
      int i = 0;
      while (i < n) {
        if (packets[i].opcode().isRequest()) {
          int end = i + 1;
          while (end < n && packets[end].opcode().isRequest()) {
            end++;
          }
          responder.onRequests(in.from(), packets, i, end);
          i = end;
        } else {
          completer.onAnswer(packets[i++]);
        }
      }
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  private Behavior<Command> onAckTimeout(AckTimeout t) {
    if (t.epoch() != epoch) {
      return Behaviors.same();
    }
    beginTurn();
    try {
      completer.onAckTimeout();
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  private Behavior<Command> onRnrResume(RnrResume r) {
    if (r.epoch() != epoch) {
      return Behaviors.same();
    }
    beginTurn();
    try {
      completer.onRnrResume();
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  private Behavior<Command> onDelayedPacket(DelayedPacket d) {
    beginTurn();
    try {
      sentThisTurn = true;
      if (faulting != null) {
        faulting.deliverDelayed(d.to(), d.packet());
      } else {
        link.send(d.to(), d.packet(), 0);
      }
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  private Behavior<Command> onHoldRelease(HoldRelease m) {
    if (faulting == null) {
      return Behaviors.same();
    }
    beginTurn();
    try {
      sentThisTurn = true;
      faulting.release(m.token());
    } finally {
      endTurn();
    }
    return Behaviors.same();
  }

  // ================= state changes =================

  private Behavior<Command> onModified(Modified m) {
    beginTurn();
    try {
      switch (m.to()) {
        case ERR -> flushAll();
        case RESET -> reset();
        case RTR -> responder.start();
        case RTS -> {
          drainedReported = false;
          requester.drain();
        }
        case SQD -> {
          drainedReported = false;
          reportDrainedIfSqd();
        }
        default -> { }
      }
    } finally {
      endTurn();
    }
    m.applied().completeAsync(Done::getInstance, getContext().getSystem().executionContext());
    return Behaviors.same();
  }

  /** SQD with nothing in flight, and the consumer asked for it: SQ_DRAINED, once per move to SQD. */
  void reportDrainedIfSqd() {
    if (qp.state() == QpState.SQD && !completer.inflight() && !drainedReported
        && qp.attributes().enSqdAsyncNotify()) {
      drainedReported = true;
      qp.raiseEvent(AsyncEventType.SQ_DRAINED);
    }
  }

  private void reset() {
    epoch++;
    timers.cancelAll();
    writer.reset(); // the reset frees every slot
    qp.reset();
    completer.reset();
    requester.reset();
    responder.reset();
    qp.sendQueue().idle();
  }

  /** A transport or local error: the QP goes to ERR (if it was not already) and everything is flushed. */
  void enterError() {
    if (qp.moveToError()) {
      logEnteredError(errorCause != null ? errorCause : "a transport error");
    }
    errorCause = null;
    flushAll();
  }

  /**
   * What is about to move the QP to ERR: the first error completion (status and WR) or NAK of this turn, for the
   * one warning {@link #enterError} logs. Later notes of the same error keep the first.
   */
  void noteErrorCause(String cause) {
    if (errorCause == null) {
      errorCause = cause;
    }
  }

  /** The QP moved to ERR because of {@code cause}: one WARN per move, naming the QP, its device and port. */
  void logEnteredError(String cause) {
    // The MDC of the midlayer's lines (midlayer.device, .port, .qp), set here only: none per message on the data
    // path. Pekko clears the MDC after each message.
    org.slf4j.MDC.put("midlayer.device", qp.device().name());
    org.slf4j.MDC.put("midlayer.port", String.valueOf(qp.attributes().portNum()));
    org.slf4j.MDC.put("midlayer.qp", String.valueOf(qp.qpNum()));
    getContext().getLog().warn("QP {} on {} port {} entered ERR: {}", qp.qpNum(), qp.device().name(),
        qp.attributes().portNum(), cause);
  }

  /** The QP is in ERR: every outstanding WR completes with WR_FLUSH_ERR, in order; the receives too. */
  void flushAll() {
    epoch++;
    requester.forgetRounds();
    timers.cancelAll();
    completer.stopTimers();
    flushSendQueue();
    responder.flush();
    // Posts keep coming in ERR: they are flushed here or by the doorbell they ring.
    WorkQueue<SendWqe> sq = qp.sendQueue();
    while (sq.idle()) {
      flushSendQueue();
    }
  }

  /** Every outstanding send WR completes with WR_FLUSH_ERR, in posting order, signaled or not. */
  void flushSendQueue() {
    completer.flush();
    requester.flush();
  }

  private Behavior<Command> onFlushSignal() {
    if (qp.state() == QpState.ERR) {
      responder.flush();
    }
    return Behaviors.same();
  }

  /** DEVICE_FATAL moved the QP to ERR: everything outstanding is flushed. */
  private Behavior<Command> onDeviceFatal() {
    if (qp.state() == QpState.ERR) {
      beginTurn();
      try {
        flushAll();
      } finally {
        endTurn();
      }
    }
    return Behaviors.same();
  }
}
