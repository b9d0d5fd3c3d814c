package dev.midlayer.drivers.loopback;

import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The loopback driver's engine for one QP: requester and responder in one actor, so the QP's driver state
 * is only ever touched by one thread at a time. Posts wake it with a doorbell (only when the send queue
 * goes from idle to busy); it takes the whole burst, checks local keys, and carries up to
 * {@code max-batch} work requests to the responder QP's actor in one message, like packets on a wire.
 * Every completion is produced here, in this actor's turn: never inside a consumer's post.
 *
 * <p>RC follows the rxe engine's rules (ib-semantics §8): PSNs, cumulative ACKs, RNR NAK with the
 * responder's timer and {@code rnr_retry} (7 = forever), ACK timeout with {@code retry_cnt} retries,
 * responder errors NAKed and both QPs moved to ERR, duplicates re-ACKed and never executed twice. UC and UD
 * are unreliable: the payload is copied into the message, the send completes when it leaves, and
 * whatever goes wrong at the responder drops the message silently.
 */
final class QpActor extends AbstractBehavior<QpActor.Command> {

  sealed interface Command {}

  /** Singleton signals (telling one allocates nothing). */
  enum Signal implements Command {
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
  record Modified(QpState from, QpState to, CompletableFuture<Done> applied) implements Command {}

  /** Requests from a requester (RC: references to its WRs; UC/UD: {@link Packet}s with copied payload). */
  record Deliver(QpActor.Peer from, long gen, int firstPsn, Object[] entries, int count) implements Command {}

  /** RC: everything up to and including {@code psn} was executed. */
  record Ack(long gen, int psn) implements Command {}

  /** RC: the request at {@code psn} failed (everything before it was executed). */
  record Nak(long gen, int psn, NakKind kind, int rnrTimer) implements Command {}

  private record AckTimeout(long gen) implements Command {}

  /** The hold time of a packet held for reordering ({@link FaultLink}) is over. */
  record LinkRelease(long token) implements Command {}

  private record RnrResume(long gen) implements Command {}

  enum NakKind {
    /** The responder expected an earlier PSN: resend from it (not an error by itself). */
    PSN_SEQUENCE(WcStatus.RETRY_EXC_ERR),
    RNR(WcStatus.RNR_RETRY_EXC_ERR),
    INVALID_REQUEST(WcStatus.REM_INV_REQ_ERR),
    REMOTE_ACCESS(WcStatus.REM_ACCESS_ERR),
    REMOTE_OPERATIONAL(WcStatus.REM_OP_ERR),
    LOCAL_PROTECTION(WcStatus.LOC_PROT_ERR);

    final WcStatus requesterStatus;

    NakKind(WcStatus requesterStatus) {
      this.requesterStatus = requesterStatus;
    }
  }

  /** An unreliable message with its payload copied at send time; {@code sgid} is the sender's GID (for the GRH). */
  record Packet(SendWqe wr, byte[] data, int srcQp, int slid, int qkey, AhAttr grhFrom, boolean grh, Gid sgid) {}

  /** Who sent a {@link Deliver}: where to send ACKs, and the requester's side for RC source reads. */
  record Peer(ActorRef<Command> actor, QpContext qp, LoopbackQp driver, LoopbackDevice device, int portNum) {}

  QpContext qp() {
    return qp;
  }

  MemoryKeys keys() {
    return keys;
  }

  /** The RNR NAK timer table of IB (code to microseconds). */
  private static final long[] RNR_MICROS = {655_360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960,
      1_280, 1_920, 2_560, 3_840, 5_120, 7_680, 10_240, 15_360, 20_480, 30_720, 40_960, 61_440, 81_920, 122_880,
      163_840, 245_760, 327_680, 491_520};

  static Behavior<Command> create(LoopbackQp driver, double timerScale, int maxBatch) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(t -> new QpActor(ctx, t, driver, timerScale, maxBatch)));
  }

  private final TimerScheduler<Command> timers;
  private final LoopbackQp driver;
  private final QpContext qp;
  private final MemoryKeys keys;
  private final WorkQueue<SendWqe> sq;
  private final WorkQueue<RecvWqe> rq;
  private final double timerScale;
  private final int maxBatch;
  private final Peer self;
  private final LoopbackFabric fabric;
  /** Applies a fault plan to outgoing messages; made when the fabric first has a plan. */
  private FaultLink link;

  // requester (RC)
  /** Sent, not yet ACKed, oldest first; the head has PSN {@link #unackedPsn}. */
  private final ArrayDeque<Object> inflight = new ArrayDeque<>();
  private int unackedPsn;
  private int nextPsn;
  /** Bumped by every flush and reset: answers to older messages are ignored. */
  private long gen;
  private boolean waitingRnr;
  /**
   * The held-back WR waits for ACKs: a READ/atomic over max_rd_atomic, a fenced WR behind READs/atomics,
   * or a REG_MR/LOCAL_INV behind anything in flight.
   */
  private boolean blockedOnAcks;
  /** The WR that waits for that: sent before anything still in the send queue. */
  private SendWqe heldBack;
  private int rdAtomicInflight;
  /**
   * Unsignaled WRs that succeeded and whose slots are not yet given back: freed in one update per batch
   * (an ACK's run, a drain of the queue) or before the next completion of this QP's send queue, as a NIC's
   * completion frees the run of WQEs before it. One atomic per WR would bounce the send queue's counter
   * between the poster's core and this one for every message.
   */
  private int unsignaledDone;
  private boolean ackTimerArmed;
  /**
   * ACKs that made progress, and their count when the ACK timer was armed: the timer is armed once, not per
   * ACK, and when it fires after progress it is armed again for a full period. So a retry comes between one and
   * two periods after the last progress (the spec asks for at least one), and only the actor's timers measure
   * time: a test on Pekko's manual clock drives ACK timeouts like every other timer.
   */
  private long progress;
  private long progressAtArm;
  /** A WR failed a local check behind WRs still in flight: nothing more is sent until it fails. */
  private boolean blockedOnFailure;
  private boolean sendSideReady;
  private boolean recvSideReady;
  private boolean lastWqeReported;
  private int retryLeft;
  private int rnrLeft;
  private boolean drainedReported;
  /**
   * Go-back-N rounds, for the attempt numbers a fault plan sees: {@link #retransmit} starts a round, and
   * {@link #roundStarts} remembers from which PSN on WRs were first sent in which round ({PSN, round}, oldest
   * first), so a PSN's attempt is the rounds since its first one. Costs one int comparison per fresh WR.
   */
  private int rounds;
  private int roundRecorded = -1;
  private final ArrayDeque<int[]> roundStarts = new ArrayDeque<>();

  // responder (RC)
  private int expectedPsn;
  private boolean sentPsnNak;
  private boolean commEstablished;

  private QpActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, LoopbackQp driver, double timerScale,
      int maxBatch) {
    super(ctx);
    this.timers = timers;
    this.driver = driver;
    this.qp = driver.qp();
    this.keys = qp.device().memory();
    this.sq = qp.sendQueue();
    this.rq = qp.recvQueue();
    this.timerScale = timerScale;
    this.maxBatch = maxBatch;
    this.self = new Peer(ctx.getSelf(), qp, driver, driver.device(), 0);
    this.fabric = driver.device().fabric();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Signal.SQ_DOORBELL, this::drainSqTracked)
        .onMessageEquals(Signal.FLUSH, this::onFlushSignal)
        .onMessageEquals(Signal.STOP, Behaviors::stopped)
        .onMessageEquals(Signal.DEVICE_FATAL, this::onDeviceFatal)
        .onMessage(LinkRelease.class, this::onLinkRelease)
        .onMessage(Modified.class, this::onModified)
        .onMessage(Deliver.class, this::onDeliverTracked)
        .onMessage(Ack.class, this::onAck)
        .onMessage(Nak.class, this::onNak)
        .onMessage(AckTimeout.class, this::onAckTimeout)
        .onMessage(RnrResume.class, this::onRnrResume)
        .build();
  }

  // ================= requester =================

  // Steps that may copy registered memory are bracketed, so the memory fence can wait for them.
  private Behavior<Command> drainSqTracked() {
    driver.transferBegin();
    try {
      return drainSq();
    } finally {
      driver.transferEnd();
    }
  }

  private Behavior<Command> onDeliverTracked(Deliver d) {
    driver.transferBegin();
    try {
      return onDeliver(d);
    } finally {
      driver.transferEnd();
    }
  }

  private Behavior<Command> drainSq() {
    try {
      return drainSqLoop();
    } finally {
      flushUnsignaled();
    }
  }

  private Behavior<Command> drainSqLoop() {
    do {
      QpState s = qp.state();
      if (s == QpState.ERR || s == QpState.SQE) {
        flushSendQueue();
      } else if (s != QpState.RTS || waitingRnr || blockedOnFailure || blockedOnAcks) {
        // SQD (queued, not started), an RNR wait, a local failure waiting for the WRs before it, or RESET:
        // the queue stays busy (no doorbells) and a message resumes it.
        return Behaviors.same();
      } else if (qp.type() == QpType.RC) {
        initSendSide();
        sendReliable();
        if (blockedOnFailure) {
          return Behaviors.same();
        }
      } else {
        initSendSide();
        sendUnreliable();
      }
    } while (sq.idle());
    return Behaviors.same();
  }

  /** PSNs start from the attributes of the RTR-to-RTS modify, whichever message comes first. */
  private void initSendSide() {
    if (!sendSideReady) {
      sendSideReady = true;
      QpAttr a = qp.attributes();
      nextPsn = a.sqPsn();
      unackedPsn = a.sqPsn();
      retryLeft = a.retryCnt();
      rnrLeft = a.rnrRetry();
    }
  }

  /** RC: takes the queued WRs, checks local keys, and carries them to the responder in batches. */
  private void sendReliable() {
    Peer peer = driver.resolvePeer();
    Object[] batch = null;
    int count = 0;
    int firstPsn = nextPsn;
    SendWqe entry;
    while ((entry = nextToSend()) != null) {
      SendWqe wr = entry;
      if (LocalOps.isLocal(wr.opcode())) {
        // REG_MR and LOCAL_INV run once every earlier WR completed (rxe's strict fence), so no earlier
        // request can still be reading a region through a key they change.
        if (!inflight.isEmpty()) {
          heldBack = entry;
          blockedOnAcks = true;
          break;
        }
        if (!executeLocal(entry)) {
          return;
        }
        continue;
      }
      boolean rdAtomic = isReadOrAtomic(wr.opcode());
      // At most max_rd_atomic READ/atomic WRs in flight, and a FENCE waits for all of them: the WR waits
      // (it does not fail) until ACKs free a slot.
      if ((rdAtomic && rdAtomicInflight >= Math.max(1, qp.attributes().maxRdAtomic()))
          || (wr.has(SendFlags.FENCE) && rdAtomicInflight > 0)) {
        heldBack = entry;
        blockedOnAcks = true;
        break;
      }
      // READ and atomic results are written into the local SGEs, which must grant LOCAL_WRITE.
      if (wr.inlineData() == null && !SgCopy.check(wr, keys, qp.pdHandle(), rdAtomic)) {
        if (batch != null) {
          transmit(peer, firstPsn, batch, count);
          batch = null;
        }
        // Earlier WRs of this burst are in flight; this one fails locally once they are done.
        failLocally(entry, WcStatus.LOC_PROT_ERR);
        return;
      }
      if (batch == null) {
        batch = new Object[maxBatch];
        count = 0;
        firstPsn = nextPsn;
      }
      batch[count++] = entry;
      if (roundRecorded != rounds) {
        roundRecorded = rounds;
        roundStarts.addLast(new int[] {nextPsn, rounds});
      }
      inflight.addLast(entry);
      nextPsn = psnAdd(nextPsn, 1);
      if (rdAtomic) {
        rdAtomicInflight++;
      }
      if (count == maxBatch) {
        transmit(peer, firstPsn, batch, count);
        batch = null;
      }
    }
    if (batch != null) {
      transmit(peer, firstPsn, batch, count);
    }
  }

  /** Executes a REG_MR or LOCAL_INV at the head of the queue; false if it failed (the QP is then in error). */
  private boolean executeLocal(SendWqe entry) {
    if (!LocalOps.execute(qp, entry).ok()) {
      completeError(entry, WcStatus.LOC_QP_OP_ERR);
      if (qp.type() == QpType.RC) {
        enterError();
      } else if (qp.moveToSqError()) {
        flushSendQueue();
      }
      return false;
    }
    // A CQ that overflowed failed the QP: stop taking WRs.
    return completeSuccess(entry);
  }

  private SendWqe nextToSend() {
    SendWqe held = heldBack;
    if (held != null) {
      heldBack = null;
      return held;
    }
    return sq.take();
  }

  static boolean isReadOrAtomic(WrOpcode op) {
    return op == WrOpcode.RDMA_READ || op == WrOpcode.ATOMIC_CMP_AND_SWP || op == WrOpcode.ATOMIC_FETCH_AND_ADD;
  }

  private void transmit(Peer peer, int firstPsn, Object[] batch, int count) {
    // A peer that does not exist, or a link that is down, drops the packets: the ACK timeout handles it.
    if (peer != null && linkUp(peer)) {
      Deliver d = new Deliver(self, gen, firstPsn, batch, count);
      FaultPlan plan = fabric.faultPlan(); // the one volatile read of the path without faults
      if (plan == null) {
        peer.actor().tell(d);
      } else {
        link().sendData(plan, peer.actor(), d, directionTo(peer), qp.qpNum(), peer.qp().qpNum(), this::attemptOf);
      }
    }
    startAckTimer();
  }

  private FaultLink link() {
    if (link == null) {
      link = new FaultLink(getContext(), timerScale);
    }
    return link;
  }

  /** The direction from this QP's port to the port of the connected peer. */
  private Direction directionTo(Peer peer) {
    return new Direction(driver.device().gid(localPort(qp)), peer.device().gid(Math.max(1, peer.portNum())));
  }

  private static int localPort(QpContext q) {
    int p = q.attributes().portNum();
    return p < 1 ? 1 : p;
  }

  /** Which transmission of {@code psn} the next one is (0: the first), from the go-back-N rounds. */
  private int attemptOf(int psn) {
    int round = -1;
    for (int[] start : roundStarts) {
      if (psnCompare(start[0], psn) > 0) {
        break;
      }
      round = start[1];
    }
    return round < 0 ? 0 : rounds - round;
  }

  /** An ACK or NAK to the requester {@code to}, through the fault plan if there is one. */
  private void reply(Peer to, Command msg, boolean nak, int psn) {
    FaultPlan plan = fabric.faultPlan();
    if (plan == null) {
      to.actor().tell(msg);
      return;
    }
    Direction dir = new Direction(driver.device().gid(localPort(qp)), to.device().gid(localPort(to.qp())));
    link().sendReply(plan, to.actor(), msg, nak, psn, dir, qp.qpNum(), to.qp().qpNum());
  }

  private Behavior<Command> onLinkRelease(LinkRelease m) {
    if (link != null) {
      link.release(m.token());
    }
    return Behaviors.same();
  }

  /** DEVICE_FATAL moved the QP to ERR (LoopbackDevice#raiseFatal): everything outstanding is flushed. */
  private Behavior<Command> onDeviceFatal() {
    if (qp.state() == QpState.ERR) {
      enterErrorFlush();
    }
    return Behaviors.same();
  }

  private boolean linkUp(Peer peer) {
    int localPort = qp.attributes().portNum();
    return driver.device().portState(localPort < 1 ? 1 : localPort) == PortState.ACTIVE
        && peer.device().portState(peer.portNum()) == PortState.ACTIVE;
  }

  /**
   * Arms the ACK timeout if it is not armed. It is not restarted on every packet or ACK (that costs a
   * scheduler call per batch): when it fires, it re-arms itself for the rest of the period if an ACK made
   * progress meanwhile, so a timeout is declared only after a whole period without progress.
   */
  private void startAckTimer() {
    if (ackTimerArmed || inflight.isEmpty()) {
      return;
    }
    long period = ackTimeoutNanos();
    if (period == 0) {
      return; // timeout 0 waits forever
    }
    ackTimerArmed = true;
    progressAtArm = progress;
    timers.startSingleTimer("ack", new AckTimeout(gen), Duration.ofNanos(period));
  }

  private long ackTimeoutNanos() {
    int code = qp.attributes().timeout();
    return code == 0 ? 0 : Math.max(1_000, (long) (4096L * (1L << code) * timerScale));
  }

  /** A local error on the WR at the queue head after the in-flight ones: remembered as a sentinel. */
  private void failLocally(SendWqe entry, WcStatus status) {
    if (inflight.isEmpty()) {
      completeError(entry, status);
      enterError();
    } else {
      inflight.addLast(new LocalFailure(entry, status));
      nextPsn = psnAdd(nextPsn, 1);
      blockedOnFailure = true;
    }
  }

  /** An in-flight slot whose WR failed before leaving; it fails when it reaches the head. */
  private record LocalFailure(SendWqe entry, WcStatus status) {}

  /** UC and UD: the payload travels in the message; the send completes as it leaves. */
  private void sendUnreliable() {
    SendWqe wr;
    while ((wr = sq.take()) != null) {
      if (LocalOps.isLocal(wr.opcode())) {
        if (!executeLocal(wr)) {
          return;
        }
        continue;
      }
      byte[] data;
      MemoryMapping[] src;
      if (wr.inlineData() != null) {
        data = wr.inlineData();
      } else if ((src = SgCopy.resolveAll(wr, keys, qp.pdHandle(), false)) != null) {
        data = SgCopy.gather(wr, src, wr.length());
      } else {
        completeError(wr, WcStatus.LOC_PROT_ERR);
        // UD and UC send errors move the QP to SQE; the receive side keeps working.
        if (qp.moveToSqError()) {
          flushSendQueue();
        }
        return;
      }
      deliverUnreliable(wr, data);
      completeSuccess(wr);
    }
  }

  private void deliverUnreliable(SendWqe wr, byte[] data) {
    LoopbackFabric fabric = driver.device().fabric();
    if (qp.type() == QpType.UD) {
      AhAttr ah = wr.ah();
      LoopbackDevice dest = fabric.route(ah);
      if (dest == null || dest.driverDevice() == null || driver.device().portState(ah.portNum()) != PortState.ACTIVE) {
        return;
      }
      QpContext target = dest.driverDevice().qp(wr.remoteQpn());
      if (target == null || target.type() != QpType.UD || !(target.driver() instanceof LoopbackQp lq)) {
        return;
      }
      int destPort = dest.portOf(ah);
      if (dest.portState(destPort) != PortState.ACTIVE) {
        return;
      }
      Packet p = new Packet(wr, data, qp.qpNum(), driver.device().lid(ah.portNum()), wr.remoteQkey(), ah, ah.grh(),
          driver.device().gid(ah.portNum()));
      Deliver d = new Deliver(self, gen, takeUnreliablePsn(), new Object[] {p}, 1);
      FaultPlan plan = fabric.faultPlan();
      if (plan == null) {
        lq.actor().tell(d);
      } else {
        link().sendData(plan, lq.actor(), d, new Direction(driver.device().gid(ah.portNum()), dest.gid(destPort)),
            qp.qpNum(), target.qpNum(), FaultLink.firstAttempt());
      }
    } else {
      Peer peer = driver.resolvePeer();
      if (peer == null || !linkUp(peer)) {
        return;
      }
      Packet p = new Packet(wr, data, qp.qpNum(), 0, 0, null, false, null);
      Deliver d = new Deliver(self, gen, takeUnreliablePsn(), new Object[] {p}, 1);
      FaultPlan plan = fabric.faultPlan();
      if (plan == null) {
        peer.actor().tell(d);
      } else {
        link().sendData(plan, peer.actor(), d, directionTo(peer), qp.qpNum(), peer.qp().qpNum(),
            FaultLink.firstAttempt());
      }
    }
  }

  /** UC and UD: the PSN of the next packet (from sq_psn; the responder does not check it, as rxe for a first/only packet). */
  private int takeUnreliablePsn() {
    int psn = nextPsn;
    nextPsn = psnAdd(nextPsn, 1);
    return psn;
  }

  private Behavior<Command> onAck(Ack ack) {
    if (ack.gen() != gen) {
      return Behaviors.same();
    }
    boolean progressed = retireThrough(ack.psn());
    if (progressed) {
      // Progress resets both retry budgets (rxe's completer does the same).
      QpAttr a = qp.attributes();
      retryLeft = a.retryCnt();
      rnrLeft = a.rnrRetry();
      progress++;
    }
    if (inflight.isEmpty()) {
      reportDrainedIfSqd();
    }
    if (blockedOnAcks) {
      // Cleared in any state: outside RTS drainSq waits, and the move back to RTS resumes the held WR.
      blockedOnAcks = false;
      return drainSq();
    }
    return Behaviors.same();
  }

  /** Completes in-flight WRs up to {@code psn}; a local failure reaching the head fails the QP. */
  private boolean retireThrough(int psn) {
    boolean progressed = false;
    while (!inflight.isEmpty() && psnCompare(unackedPsn, psn) <= 0) {
      Object entry = inflight.pollFirst();
      unackedPsn = psnAdd(unackedPsn, 1);
      progressed = true;
      if (entry instanceof LocalFailure lf) {
        completeError(lf.entry(), lf.status());
        enterError();
        return true;
      }
      SendWqe wr = (SendWqe) entry;
      if (isReadOrAtomic(wr.opcode())) {
        rdAtomicInflight--;
      }
      if (!completeSuccess(wr)) {
        return true;
      }
    }
    flushUnsignaled();
    // A local failure right behind the acknowledged ones fails now.
    if (!inflight.isEmpty() && inflight.peekFirst() instanceof LocalFailure lf) {
      inflight.pollFirst();
      completeError(lf.entry(), lf.status());
      enterError();
    }
    return progressed;
  }

  private Behavior<Command> onNak(Nak nak) {
    if (nak.gen() != gen) {
      return Behaviors.same();
    }
    boolean progressed = retireThrough(psnAdd(nak.psn(), -1));
    if (qp.state() == QpState.ERR || inflight.isEmpty()) {
      return Behaviors.same();
    }
    if (progressed) {
      QpAttr a = qp.attributes();
      retryLeft = a.retryCnt();
      rnrLeft = a.rnrRetry();
    }
    if (nak.kind() == NakKind.PSN_SEQUENCE) {
      // The responder missed a request (dropped while a link was down): go back to its PSN and resend,
      // which counts as a retry. During an RNR wait the RNR timer resends anyway.
      if (waitingRnr) {
        return Behaviors.same();
      }
      if (retryLeft-- > 0) {
        retransmit();
        return Behaviors.same();
      }
      completeError(wqeOf(inflight.pollFirst()), WcStatus.RETRY_EXC_ERR);
      enterError();
      return Behaviors.same();
    }
    if (nak.kind() == NakKind.RNR) {
      QpAttr a = qp.attributes();
      if (a.rnrRetry() == 7 || rnrLeft-- > 0) {
        waitingRnr = true;
        timers.cancel("ack");
        ackTimerArmed = false;
        long micros = RNR_MICROS[nak.rnrTimer() & 31];
        timers.startSingleTimer("rnr", new RnrResume(gen),
            Duration.ofNanos(Math.max(1_000, (long) (micros * 1_000 * timerScale))));
        return Behaviors.same();
      }
    }
    completeError(wqeOf(inflight.pollFirst()), nak.kind().requesterStatus);
    enterError();
    return Behaviors.same();
  }

  private Behavior<Command> onRnrResume(RnrResume msg) {
    if (msg.gen() != gen || !waitingRnr) {
      return Behaviors.same();
    }
    waitingRnr = false;
    retransmit();
    return drainSq();
  }

  private Behavior<Command> onAckTimeout(AckTimeout msg) {
    if (msg.gen() != gen) {
      return Behaviors.same();
    }
    ackTimerArmed = false;
    if (inflight.isEmpty() || waitingRnr) {
      return Behaviors.same();
    }
    long period = ackTimeoutNanos();
    if (period > 0 && progress != progressAtArm) {
      // ACKs came since the timer was armed: the oldest WR still in flight gets a full period of its own.
      ackTimerArmed = true;
      progressAtArm = progress;
      timers.startSingleTimer("ack", new AckTimeout(gen), Duration.ofNanos(period));
      return Behaviors.same();
    }
    if (retryLeft-- > 0) {
      retransmit();
      return Behaviors.same();
    }
    completeError(wqeOf(inflight.pollFirst()), WcStatus.RETRY_EXC_ERR);
    enterError();
    return Behaviors.same();
  }

  /** Sends every in-flight WR again from the oldest (go-back-N); the responder skips what it executed. */
  private void retransmit() {
    rounds++;
    // Rounds that started at or below the oldest PSN in flight but one are no longer needed for attempts.
    while (roundStarts.size() > 1) {
      int[] first = roundStarts.pollFirst();
      if (psnCompare(roundStarts.peekFirst()[0], unackedPsn) > 0) {
        roundStarts.addFirst(first);
        break;
      }
    }
    Peer peer = driver.resolvePeer();
    int psn = unackedPsn;
    Object[] batch = null;
    int count = 0;
    int first = psn;
    for (Object entry : inflight) {
      if (entry instanceof LocalFailure) {
        break;
      }
      if (batch == null) {
        batch = new Object[maxBatch];
        count = 0;
        first = psn;
      }
      batch[count++] = entry;
      psn = psnAdd(psn, 1);
      if (count == maxBatch) {
        transmit(peer, first, batch, count);
        batch = null;
      }
    }
    if (batch != null) {
      transmit(peer, first, batch, count);
    }
    startAckTimer();
  }

  // ================= responder =================

  private Behavior<Command> onDeliver(Deliver d) {
    QpState s = qp.state();
    // Requests to a QP below RTR, or in ERR, are dropped without an answer (rxe's receive checks).
    if (s == QpState.RESET || s == QpState.INIT || s == QpState.ERR) {
      return Behaviors.same();
    }
    if (!recvSideReady) {
      recvSideReady = true;
      expectedPsn = qp.attributes().rqPsn();
    }
    if (s == QpState.RTR && !commEstablished) {
      commEstablished = true;
      qp.raiseEvent(AsyncEventType.COMM_EST);
    }
    if (qp.type() == QpType.RC) {
      receiveReliable(d);
    } else {
      for (int i = 0; i < d.count(); i++) {
        receiveUnreliable((Packet) d.entries()[i]);
      }
    }
    return Behaviors.same();
  }

  private void receiveReliable(Deliver d) {
    Peer from = d.from();
    MemoryKeys srcKeys = from.qp().device().memory();
    int psn = d.firstPsn();
    boolean executed = false;
    for (int i = 0; i < d.count(); i++, psn = psnAdd(psn, 1)) {
      if (psnCompare(psn, expectedPsn) < 0) {
        executed = true; // a duplicate of something executed: re-ACK it, never execute twice
        continue;
      }
      if (psn != expectedPsn) {
        // A gap (requests were lost): NAK once with the PSN expected, and drop until it is filled.
        if (!sentPsnNak) {
          sentPsnNak = true;
          reply(from, new Nak(d.gen(), expectedPsn, NakKind.PSN_SEQUENCE, 0), true, expectedPsn);
        }
        return;
      }
      sentPsnNak = false;
      SendWqe wr = (SendWqe) d.entries()[i];
      NakKind nak = receiveOne(wr, from, srcKeys);
      if (nak != null) {
        reply(from, new Nak(d.gen(), psn, nak, qp.attributes().minRnrTimer()), true, psn);
        return;
      }
      expectedPsn = psnAdd(expectedPsn, 1);
      executed = true;
    }
    if (executed) {
      int acked = psnAdd(expectedPsn, -1);
      reply(from, new Ack(d.gen(), acked), false, acked);
    }
  }

  /** Executes one RC request; returns null on success or the NAK to send. */
  private NakKind receiveOne(SendWqe wr, Peer from, MemoryKeys srcKeys) {
    switch (wr.opcode()) {
      case RDMA_WRITE, RDMA_WRITE_WITH_IMM -> {
        return OneSided.write(this, wr, from, srcKeys);
      }
      case RDMA_READ -> {
        return OneSided.read(this, wr, from, srcKeys);
      }
      case ATOMIC_CMP_AND_SWP, ATOMIC_FETCH_AND_ADD -> {
        return OneSided.atomic(this, wr, from, srcKeys);
      }
      default -> { }
    }
    if (!wr.opcode().isSend()) {
      enterError(); // not an operation a responder executes: an invalid request (class C)
      return NakKind.INVALID_REQUEST;
    }
    byte[] inline = wr.inlineData();
    int srcPd = from.qp().pdHandle();
    // The common case, one SGE a side: each key is resolved once and the bytes move piece by piece.
    MemoryMapping srcMap = null;
    MemoryMapping[] srcMaps = null;
    if (inline == null && wr.sgeCount() == 1) {
      srcMap = SgCopy.resolve(wr, 0, srcKeys, srcPd, false);
      if (srcMap == null) {
        return NakKind.LOCAL_PROTECTION;
      }
    } else if (inline == null && (srcMaps = SgCopy.resolveAll(wr, srcKeys, srcPd, false)) == null) {
      // The source was deregistered after it was posted: the requester's local protection error.
      return NakKind.LOCAL_PROTECTION;
    }
    RecvWqe recv = qp.takeRecv();
    if (recv == null) {
      return NakKind.RNR;
    }
    long length = wr.length();
    if (length > recv.capacity()) {
      completeRecvError(recv, WcStatus.LOC_LEN_ERR);
      enterError();
      return NakKind.INVALID_REQUEST;
    }
    MemoryMapping dstMap = recv.sgeCount() == 1 ? SgCopy.resolve(recv, 0, keys, qp.pdHandle(), true) : null;
    MemoryMapping[] dstMaps = recv.sgeCount() == 1 ? null : SgCopy.resolveAll(recv, keys, qp.pdHandle(), true);
    if (dstMap == null && dstMaps == null) {
      completeRecvError(recv, WcStatus.LOC_PROT_ERR);
      enterError();
      return NakKind.REMOTE_OPERATIONAL;
    }
    if (length > 0) {
      if (dstMap != null && inline != null) {
        dstMap.put(recv.sgeAddr(0), inline, 0, (int) length);
      } else if (dstMap != null && srcMap != null) {
        MemoryMapping.copy(srcMap, wr.sgeAddr(0), dstMap, recv.sgeAddr(0), length);
      } else {
        SgCopy.copy(inline, wr, srcMaps != null ? srcMaps : new MemoryMapping[] {srcMap}, length, recv,
            dstMaps != null ? dstMaps : new MemoryMapping[] {dstMap}, 0);
      }
    }
    if (!invalidateFor(wr, recv)) {
      return NakKind.INVALID_REQUEST;
    }
    int invalidated = wr.opcode() == WrOpcode.SEND_WITH_INV ? wr.invalidateRkey() : 0;
    completeRecv(recv, wr, (int) length, from.qp().qpNum(), 0, 0, invalidated);
    return null;
  }

  private void receiveUnreliable(Packet p) {
    SendWqe wr = p.wr();
    if (wr.opcode() == WrOpcode.RDMA_WRITE || wr.opcode() == WrOpcode.RDMA_WRITE_WITH_IMM) {
      OneSided.writeUnreliable(this, p);
      return;
    }
    if (qp.type() == QpType.UD && p.qkey() != qp.attributes().qkey()) {
      return; // Q_Key mismatch: dropped
    }
    RecvWqe recv = qp.takeRecv();
    if (recv == null) {
      return; // no receive posted: UC and UD drop the message
    }
    int grh = qp.type() == QpType.UD ? 40 : 0;
    long length = p.data().length;
    if (length + grh > recv.capacity()) {
      completeRecvError(recv, WcStatus.LOC_LEN_ERR);
      return;
    }
    MemoryMapping[] dst = SgCopy.resolveAll(recv, keys, qp.pdHandle(), true);
    if (dst == null) {
      completeRecvError(recv, WcStatus.LOC_PROT_ERR);
      return;
    }
    int flags = 0;
    if (grh > 0 && p.grh()) {
      SgCopy.copy(grhBytes(p), null, null, 40, recv, dst, 0);
      flags |= WcFlags.GRH;
    }
    SgCopy.copy(p.data(), null, null, length, recv, dst, grh);
    if (!invalidateFor(wr, recv)) {
      return; // UC: nothing is sent back
    }
    int invalidated = wr.opcode() == WrOpcode.SEND_WITH_INV ? wr.invalidateRkey() : 0;
    // UD: byte_len counts the 40-byte GRH area too, filled or not (IBA 11.4.2.1; rxe and libibverbs do so).
    completeRecv(recv, wr, (int) (length + grh), p.srcQp(), p.slid(), flags, invalidated);
  }

  /**
   * SEND_WITH_INV (IETH): invalidates the responder's key once the data is in. A failure is class J: the
   * receive completes with REM_INV_REQ_ERR and the QP goes to ERR; returns false then. Other opcodes: true.
   */
  private boolean invalidateFor(SendWqe wr, RecvWqe recv) {
    if (wr.opcode() != WrOpcode.SEND_WITH_INV || LocalOps.invalidate(qp, wr.invalidateRkey()).ok()) {
      return true;
    }
    completeRecvError(recv, WcStatus.REM_INV_REQ_ERR);
    enterError();
    return false;
  }

  /** A GRH as it would arrive: version 6, traffic class, payload length, next header 0x1B, hop limit, SGID, DGID. */
  private byte[] grhBytes(Packet p) {
    byte[] g = new byte[40];
    AhAttr ah = p.grhFrom();
    g[0] = (byte) (0x60 | ((ah.trafficClass() >> 4) & 0xf));
    g[1] = (byte) ((ah.trafficClass() & 0xf) << 4);
    int payload = p.data().length;
    g[4] = (byte) (payload >> 8);
    g[5] = (byte) payload;
    g[6] = 0x1B;
    g[7] = (byte) ah.hopLimit();
    Gid sgid = p.sgid();
    putLong(g, 8, sgid.subnetPrefix());
    putLong(g, 16, sgid.interfaceId());
    putLong(g, 24, ah.dgid().subnetPrefix());
    putLong(g, 32, ah.dgid().interfaceId());
    return g;
  }

  private static void putLong(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (56 - 8 * i));
    }
  }

  /** A successful receive; {@code invalidated} is the rkey a SEND_WITH_INV invalidated (0 for other opcodes). */
  void completeRecv(RecvWqe recv, SendWqe wr, int length, int srcQp, int slid, int flags, int invalidated) {
    int imm = 0;
    if (wr.opcode().hasImm()) {
      flags |= WcFlags.WITH_IMM;
      imm = wr.immData();
    }
    if (wr.opcode() == WrOpcode.SEND_WITH_INV) {
      flags |= WcFlags.WITH_INVALIDATE;
    }
    WcOpcode opcode = wr.opcode() == WrOpcode.RDMA_WRITE_WITH_IMM ? WcOpcode.RECV_RDMA_WITH_IMM : WcOpcode.RECV;
    if (!qp.completeRecv(recv, opcode, length, srcQp, slid, flags, imm, invalidated, wr.has(SendFlags.SOLICITED))) {
      cqOverflowed(false);
    }
  }

  /** The next receive: from the SRQ if the QP has one, else from its own receive queue. */
  RecvWqe takeRecv() {
    return qp.takeRecv();
  }

  void completeRecvError(RecvWqe recv, WcStatus status) {
    if (!qp.completeRecvError(recv, status)) {
      cqOverflowed(false);
    }
  }

  // ================= state changes =================

  private Behavior<Command> onModified(Modified m) {
    Behavior<Command> next = applyModified(m);
    m.applied().completeAsync(Done::getInstance, getContext().getSystem().executionContext());
    return next;
  }

  private Behavior<Command> applyModified(Modified m) {
    QpAttr a = qp.attributes();
    switch (m.to()) {
      case ERR -> enterErrorFlush();
      case RESET -> reset();
      case RTR -> {
        if (!recvSideReady) {
          recvSideReady = true;
          expectedPsn = a.rqPsn();
        }
      }
      case RTS -> {
        drainedReported = false;
        return drainSq();
      }
      case SQD -> {
        drainedReported = false;
        reportDrainedIfSqd();
      }
      default -> { }
    }
    return Behaviors.same();
  }

  private void reportDrainedIfSqd() {
    if (qp.state() == QpState.SQD && inflight.isEmpty() && !drainedReported && qp.attributes().enSqdAsyncNotify()) {
      drainedReported = true;
      qp.raiseEvent(AsyncEventType.SQ_DRAINED);
    }
  }

  private void reset() {
    gen++;
    timers.cancelAll();
    ackTimerArmed = false;
    waitingRnr = false;
    blockedOnFailure = false;
    sendSideReady = false;
    recvSideReady = false;
    lastWqeReported = false;
    sentPsnNak = false;
    unsignaledDone = 0; // the reset frees every slot
    qp.reset();
    inflight.clear();
    roundStarts.clear();
    roundRecorded = -1;
    heldBack = null;
    rdAtomicInflight = 0;
    blockedOnAcks = false;
    commEstablished = false;
    sq.idle();
  }

  /** A transport or local error: the QP goes to ERR (if it was not already) and everything is flushed. */
  void enterError() {
    qp.moveToError();
    enterErrorFlush();
  }

  private void enterErrorFlush() {
    gen++;
    roundStarts.clear();
    roundRecorded = -1;
    timers.cancelAll();
    ackTimerArmed = false;
    waitingRnr = false;
    blockedOnFailure = false;
    flushSendQueue();
    flushRecvQueue();
    // Posts keep coming in ERR: they are flushed here or by the doorbell they ring.
    while (sq.idle()) {
      flushSendQueue();
    }
  }

  private Behavior<Command> onFlushSignal() {
    if (qp.state() == QpState.ERR) {
      flushRecvQueue();
    }
    return Behaviors.same();
  }

  /** Every outstanding send WR completes with WR_FLUSH_ERR, in posting order, signaled or not. */
  private void flushSendQueue() {
    Object entry;
    while ((entry = inflight.pollFirst()) != null) {
      completeFlush(wqeOf(entry));
    }
    rdAtomicInflight = 0;
    blockedOnAcks = false;
    if (heldBack != null) {
      completeFlush(heldBack);
      heldBack = null;
    }
    SendWqe wqe;
    while ((wqe = sq.take()) != null) {
      completeFlush(wqe);
    }
  }

  private void flushRecvQueue() {
    if (qp.hasSrq()) {
      // The SRQ's WRs stay in the SRQ; the QP says it will take no more (safe to destroy).
      if (!lastWqeReported) {
        lastWqeReported = true;
        qp.raiseEvent(AsyncEventType.QP_LAST_WQE_REACHED);
      }
      return;
    }
    RecvWqe recv;
    while ((recv = rq.take()) != null) {
      completeRecvError(recv, WcStatus.WR_FLUSH_ERR);
    }
  }

  private void completeFlush(SendWqe wqe) {
    completeError(wqe, WcStatus.WR_FLUSH_ERR);
  }

  /** Finishes a send WR with an error completion (signaled or not). */
  private void completeError(SendWqe wqe, WcStatus status) {
    flushUnsignaled();
    if (!qp.completeSend(wqe, status)) {
      cqOverflowed(false);
    }
  }

  /**
   * Finishes a send WR that succeeded: a completion if it is signaled (false if that failed the QP: its CQ
   * overflowed), else just its slot.
   */
  private boolean completeSuccess(SendWqe wqe) {
    if (!qp.signaled(wqe)) {
      unsignaledDone++;
      return true;
    }
    flushUnsignaled();
    if (qp.completeSend(wqe, WcStatus.SUCCESS)) {
      return true;
    }
    cqOverflowed(true);
    return false;
  }

  /** Gives back the slots of the unsignaled WRs finished since the last call (one atomic update). */
  private void flushUnsignaled() {
    if (unsignaledDone > 0) {
      qp.finishUnsignaled(unsignaledDone);
      unsignaledDone = 0;
    }
  }

  /** A completion did not fit: a fatal error of this QP (QP_FATAL, then ERR; {@code flush} flushes at once). */
  private void cqOverflowed(boolean flush) {
    if (qp.moveToError()) {
      qp.raiseEvent(AsyncEventType.QP_FATAL);
      if (flush) {
        enterErrorFlush();
      }
    }
  }

  /** The WQE of an in-flight slot (a sentinel for a local failure holds one too). */
  private static SendWqe wqeOf(Object inflightEntry) {
    return inflightEntry instanceof LocalFailure lf ? lf.entry() : (SendWqe) inflightEntry;
  }

  // 24-bit PSN arithmetic, as rxe does it.
  static int psnAdd(int psn, int n) {
    return (psn + n) & 0xFFFFFF;
  }

  static int psnCompare(int a, int b) {
    return ((a - b) << 8) >> 8;
  }
}
