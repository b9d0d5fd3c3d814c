package dev.midlayer.drivers.engine;

import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.SendWqe;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * The completer (rxe's {@code rxe_comp.c}): keeps the RC requests that await an answer, oldest first, and acts
 * on the answers: a cumulative ACK completes everything up to its PSN; a READ response or an atomic
 * acknowledgement also brings the data the WR waits for (when the link does not share memory); an RNR NAK waits
 * the responder's timer and resends ({@code rnr_retry} times, 7 = forever); a PSN sequence NAK or the ACK
 * timeout resends from the oldest ({@code retry_cnt} times); any other NAK fails the oldest WR with its status
 * and moves the QP to ERR. Progress resets both retry budgets, as rxe's {@code reset_retry_counters}.
 *
 * <p>The ACK timer is armed once, not per ACK: when it fires after progress it is armed again for a full
 * period. So a retry comes between one and two periods after the last progress (the spec asks for at least
 * one), and only the actor's timers measure time: a test on Pekko's manual clock drives ACK timeouts like
 * every other timer.
 *
 * <p>Threading: the QP's engine actor only.
 */
final class Completer {
  private final QpEngine engine;
  private final QpContext qp;
  private final CompletionWriter writer;
  private Requester requester;

  /** Sent (or failed locally), not yet answered, oldest first; the head has PSN {@link #unackedPsn}. */
  private final ArrayDeque<SendWork> inflight = new ArrayDeque<>();
  private int unackedPsn;
  private int retryLeft;
  private int rnrLeft;
  private boolean waitingRnr;
  private boolean ackTimerArmed;
  /** ACKs that made progress, and their count when the ACK timer was armed. */
  private long progress;
  private long progressAtArm;
  /** The PSN of the last READ or atomic whose data arrived (a link that does not share memory). */
  private int answered = -1;

  Completer(QpEngine engine, CompletionWriter writer) {
    this.engine = engine;
    this.qp = engine.qp();
    this.writer = writer;
  }

  void requester(Requester r) {
    this.requester = r;
  }

  /** The send side starts at {@code psn} with full retry budgets. */
  void start(int psn) {
    unackedPsn = psn;
    resetRetryCounters();
  }

  private void resetRetryCounters() {
    QpAttr a = qp.attributes();
    retryLeft = a.retryCnt();
    rnrLeft = a.rnrRetry();
  }

  void track(SendWork w) {
    inflight.addLast(w);
  }

  boolean inflight() {
    return !inflight.isEmpty();
  }

  Iterable<SendWork> inflightList() {
    return inflight;
  }

  int unackedPsn() {
    return unackedPsn;
  }

  boolean waitingRnr() {
    return waitingRnr;
  }

  /** An answer from the responder: ACK, NAK, READ response or atomic acknowledgement. */
  void onAnswer(Packet p) {
    if (p.epoch() != engine.epoch()) {
      return; // an answer to a request sent before a flush or reset
    }
    int aeth = p.aeth();
    if (Aeth.isAck(aeth)) {
      if (p.opcode() == Opcode.RDMA_READ_RESPONSE_ONLY || p.opcode() == Opcode.ATOMIC_ACKNOWLEDGE) {
        if (!placeResponse(p)) {
          return;
        }
      }
      onAck(p.psn());
    } else {
      onNak(p.psn(), aeth);
    }
  }

  /**
   * Writes a READ response's data or an atomic's original value into the WR's local SGEs (rxe's
   * {@code do_read} and {@code do_atomic}). A response for a PSN not in flight (a duplicate) is ignored.
   * Returns false if the QP failed (a local SGE no longer valid: LOC_PROT_ERR).
   */
  private boolean placeResponse(Packet p) {
    SendWork.Transmitted t = transmittedAt(p.psn());
    if (t == null) {
      return true;
    }
    SendWqe wr = t.wqe();
    byte[] data;
    if (p.opcode() == Opcode.ATOMIC_ACKNOWLEDGE) {
      data = ByteBuffer.allocate(8).putLong(0, p.atomicOriginal()).array();
    } else {
      data = p.payload() instanceof Payload.Bytes b ? b.data() : new byte[0];
    }
    MemoryMapping[] dst = SgCopy.resolveAll(wr, qp.device().memory(), qp.pdHandle(), true);
    if (dst == null || data.length > wr.length()) {
      retireThrough(Psn.add(p.psn(), -1));
      if (qp.state() != QpState.ERR) {
        fail(WcStatus.LOC_PROT_ERR);
      }
      return false;
    }
    SgCopy.copy(data, null, null, data.length, wr, dst, 0);
    answered = p.psn();
    return true;
  }

  private SendWork.Transmitted transmittedAt(int psn) {
    int at = unackedPsn;
    for (SendWork w : inflight) {
      if (at == psn) {
        return w instanceof SendWork.Transmitted t ? t : null;
      }
      at = Psn.add(at, 1);
    }
    return null;
  }

  private void onAck(int psn) {
    if (retireThrough(psn)) {
      progress++;
      resetRetryCounters();
    }
    if (inflight.isEmpty()) {
      engine.reportDrainedIfSqd();
    }
    if (requester.acksArrived()) {
      engine.drainSendQueue();
    }
  }

  /**
   * Completes in-flight WRs up to {@code psn}; a local failure reaching the head fails the QP. Over a link that
   * does not share memory, a READ or atomic can only be retired once its data came: an ACK beyond one whose
   * response is missing means the response was lost, and the requester resends from it (rxe's
   * {@code COMPST_ERROR_RETRY}).
   */
  private boolean retireThrough(int psn) {
    boolean progressed = false;
    while (!inflight.isEmpty() && Psn.compare(unackedPsn, psn) <= 0) {
      SendWork w = inflight.peekFirst();
      if (w instanceof SendWork.FailedLocally lf) {
        inflight.pollFirst();
        unackedPsn = Psn.add(unackedPsn, 1);
        writer.sendFailed(lf.wqe(), lf.status());
        requester.failureReached();
        engine.enterError();
        return true;
      }
      SendWqe wr = w.wqe();
      boolean rdAtomic = Requester.isReadOrAtomic(wr.opcode());
      if (rdAtomic && !engine.link().sharesMemory() && answered != unackedPsn) {
        writer.finishUnsignaled();
        retry();
        return progressed;
      }
      inflight.pollFirst();
      unackedPsn = Psn.add(unackedPsn, 1);
      progressed = true;
      if (rdAtomic) {
        requester.rdAtomicRetired();
      }
      if (!writer.sendSucceeded(wr)) {
        return true;
      }
    }
    writer.finishUnsignaled();
    // A local failure right behind the acknowledged ones fails now.
    if (!inflight.isEmpty() && inflight.peekFirst() instanceof SendWork.FailedLocally lf) {
      inflight.pollFirst();
      writer.sendFailed(lf.wqe(), lf.status());
      requester.failureReached();
      engine.enterError();
    }
    return progressed;
  }

  private void onNak(int psn, int aeth) {
    boolean progressed = retireThrough(Psn.add(psn, -1));
    if (qp.state() == QpState.ERR || inflight.isEmpty()) {
      return;
    }
    if (progressed) {
      resetRetryCounters();
    }
    if (Aeth.isNak(aeth) && Aeth.value(aeth) == Aeth.NAK_PSN_SEQUENCE_ERROR) {
      // The responder missed a request (dropped while a link was down): go back to its PSN and resend,
      // which counts as a retry. During an RNR wait the RNR timer resends anyway.
      if (!waitingRnr) {
        retry();
      }
      return;
    }
    if (Aeth.isRnrNak(aeth)) {
      if (qp.attributes().rnrRetry() == 7 || rnrLeft-- > 0) {
        waitingRnr = true;
        engine.cancelAckTimer();
        ackTimerArmed = false;
        engine.startRnrTimer(TransportTimers.rnrNanos(Aeth.value(aeth), engine.settings().timerScale()));
        return;
      }
      engine.counters().countRetryExceeded();
      fail(WcStatus.RNR_RETRY_EXC_ERR);
      return;
    }
    fail(statusOf(Aeth.value(aeth)));
  }

  /** The requester's status for a NAK code (IBA 9.7.5.2.4, table 44). */
  private static WcStatus statusOf(int nakCode) {
    return switch (nakCode) {
      case Aeth.NAK_INVALID_REQUEST -> WcStatus.REM_INV_REQ_ERR;
      case Aeth.NAK_REMOTE_ACCESS_ERROR -> WcStatus.REM_ACCESS_ERR;
      case Aeth.NAK_REQUESTER_PROTECTION -> WcStatus.LOC_PROT_ERR;
      default -> WcStatus.REM_OP_ERR;
    };
  }

  /** Resend from the oldest if the retry budget allows; else RETRY_EXC_ERR. */
  private void retry() {
    if (retryLeft-- > 0) {
      requester.retransmit();
    } else {
      engine.counters().countRetryExceeded();
      fail(WcStatus.RETRY_EXC_ERR);
    }
  }

  /** The oldest WR fails with {@code status}; the QP goes to ERR and everything else is flushed. */
  private void fail(WcStatus status) {
    SendWork head = inflight.pollFirst();
    if (head != null) {
      writer.sendFailed(head.wqe(), status);
    }
    engine.enterError();
  }

  /** The RNR timer fired: resend from the oldest, then carry on with the send queue. */
  void onRnrResume() {
    if (!waitingRnr) {
      return;
    }
    waitingRnr = false;
    requester.retransmit();
    engine.drainSendQueue();
  }

  /** Arms the ACK timeout if requests are in flight and it is not armed. */
  void startAckTimer() {
    if (ackTimerArmed || inflight.isEmpty()) {
      return;
    }
    long period = TransportTimers.ackTimeoutNanos(qp.attributes().timeout(), engine.settings().timerScale());
    if (period == 0) {
      return; // timeout 0 waits forever
    }
    ackTimerArmed = true;
    progressAtArm = progress;
    engine.startAckTimer(period);
  }

  /** The ACK timer fired. */
  void onAckTimeout() {
    ackTimerArmed = false;
    if (inflight.isEmpty() || waitingRnr) {
      return;
    }
    long period = TransportTimers.ackTimeoutNanos(qp.attributes().timeout(), engine.settings().timerScale());
    if (period > 0 && progress != progressAtArm) {
      // ACKs came since the timer was armed: the oldest WR still in flight gets a full period of its own.
      ackTimerArmed = true;
      progressAtArm = progress;
      engine.startAckTimer(period);
      return;
    }
    engine.counters().countAckTimeout();
    retry();
  }

  /** Every WR in flight completes with WR_FLUSH_ERR, in posting order. */
  void flush() {
    SendWork w;
    while ((w = inflight.pollFirst()) != null) {
      writer.sendFlushed(w.wqe());
    }
  }

  /** The engine cancelled every timer (flush, reset). */
  void stopTimers() {
    ackTimerArmed = false;
    waitingRnr = false;
  }

  /** RESET: forgets the WRs in flight without completions (the midlayer freed their slots). */
  void reset() {
    stopTimers();
    inflight.clear();
    answered = -1;
  }
}
