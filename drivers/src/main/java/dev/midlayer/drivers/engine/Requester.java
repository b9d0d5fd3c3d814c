package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;
import java.util.ArrayDeque;

/**
 * The requester (rxe's {@code rxe_req.c}): takes the WRs of the send queue, checks their local keys, turns them
 * into request packets and hands them to the link; it holds a WR back while IB says it must wait (a READ or
 * atomic over {@code max_rd_atomic}, a fenced WR behind READs and atomics, a REG_MR or LOCAL_INV behind
 * anything in flight), and resends everything in flight from the oldest when the completer asks (go-back-N).
 * RC WRs stay with the {@link Completer} until they are acknowledged; UC and UD WRs complete as they leave.
 *
 * <p>Threading: the QP's engine actor only.
 */
final class Requester {
  private final QpEngine engine;
  private final QpContext qp;
  private final MemoryKeys keys;
  private final WorkQueue<SendWqe> sq;
  private final Completer completer;
  private final CompletionWriter writer;
  private final int maxBatch;

  /** The PSN of the next new request. */
  private int nextPsn;
  /** PSNs and retry budgets start from the attributes of the RTR-to-RTS modify, whichever message comes first. */
  private boolean ready;
  /**
   * The held-back WR waits for ACKs: a READ/atomic over max_rd_atomic, a fenced WR behind READs/atomics,
   * or a REG_MR/LOCAL_INV behind anything in flight. It was taken before anything still in the send queue.
   */
  private SendWqe heldBack;
  private boolean blockedOnAcks;
  /** A WR failed a local check behind WRs still in flight: nothing more is sent until it fails. */
  private boolean blockedOnFailure;
  private int rdAtomicInflight;
  /**
   * Go-back-N rounds, for the attempt numbers a fault plan sees: {@link #retransmit} starts a round, and
   * {@link #roundStarts} remembers from which PSN on WRs were first sent in which round ({PSN, round}, oldest
   * first), so a PSN's attempt is the rounds since its first one. Costs one int comparison per fresh WR.
   */
  private int rounds;
  private int roundRecorded = -1;
  private final ArrayDeque<int[]> roundStarts = new ArrayDeque<>();

  Requester(QpEngine engine, Completer completer, CompletionWriter writer) {
    this.engine = engine;
    this.qp = engine.qp();
    this.keys = qp.device().memory();
    this.sq = qp.sendQueue();
    this.completer = completer;
    this.writer = writer;
    this.maxBatch = engine.settings().maxBatch();
  }

  /**
   * Sends what the send queue holds, for as long as posts keep coming (the queue's idle handshake: a post
   * that finds the queue busy rings no doorbell, so the requester looks again before it leaves).
   */
  void drain() {
    do {
      QpState s = qp.state();
      if (s == QpState.ERR || s == QpState.SQE) {
        engine.flushSendQueue();
      } else if (s != QpState.RTS || completer.waitingRnr() || blockedOnFailure || blockedOnAcks) {
        // SQD (queued, not started), an RNR wait, a local failure waiting for the WRs before it, or RESET:
        // the queue stays busy (no doorbells) and a message resumes it.
        return;
      } else if (qp.type() == QpType.RC) {
        start();
        sendReliable();
        if (blockedOnFailure) {
          return;
        }
      } else {
        start();
        sendUnreliable();
      }
    } while (sq.idle());
  }

  /** PSNs start from the attributes of the RTR-to-RTS modify. */
  void start() {
    if (!ready) {
      ready = true;
      QpAttr a = qp.attributes();
      nextPsn = a.sqPsn();
      completer.start(a.sqPsn());
    }
  }

  /** RC: takes the queued WRs, checks local keys, and sends them; the link batches them per turn. */
  private void sendReliable() {
    Endpoint peer = engine.link().connected();
    int sent = 0;
    SendWqe wr;
    while ((wr = nextToSend()) != null) {
      if (LocalOperations.isLocal(wr.opcode())) {
        // REG_MR and LOCAL_INV run once every earlier WR completed (rxe's strict fence), so no earlier
        // request can still be reading a region through a key they change.
        if (completer.inflight()) {
          holdBack(wr);
          break;
        }
        if (!executeLocal(wr)) {
          return;
        }
        continue;
      }
      boolean rdAtomic = isReadOrAtomic(wr.opcode());
      // At most max_rd_atomic READ/atomic WRs in flight, and a FENCE waits for all of them: the WR waits
      // (it does not fail) until ACKs free a slot.
      if ((rdAtomic && rdAtomicInflight >= Math.max(1, qp.attributes().maxRdAtomic()))
          || (wr.has(SendFlags.FENCE) && rdAtomicInflight > 0)) {
        holdBack(wr);
        break;
      }
      // READ and atomic results are written into the local SGEs, which must grant LOCAL_WRITE.
      if (wr.inlineData() == null && !SgCopy.check(wr, keys, qp.pdHandle(), rdAtomic)) {
        // Earlier WRs of this burst are in flight; this one fails locally once they are done.
        failLocally(wr, WcStatus.LOC_PROT_ERR);
        break;
      }
      if (roundRecorded != rounds) {
        roundRecorded = rounds;
        roundStarts.addLast(new int[] {nextPsn, rounds});
      }
      Packet p = request(wr, qp.qpNum(), qp.attributes().destQpNum(), nextPsn, 0, null,
          new Payload.Wqe(wr, qp));
      completer.track(new SendWork.Transmitted(wr, p));
      nextPsn = Psn.add(nextPsn, 1);
      if (rdAtomic) {
        rdAtomicInflight++;
      }
      transmit(peer, p, 0);
      if (++sent == maxBatch) {
        engine.link().flush();
        sent = 0;
      }
    }
    completer.startAckTimer();
  }

  private void holdBack(SendWqe wr) {
    heldBack = wr;
    blockedOnAcks = true;
  }

  /** Executes a REG_MR or LOCAL_INV at the head of the queue; false if it failed (the QP is then in error). */
  private boolean executeLocal(SendWqe wr) {
    if (!LocalOperations.execute(qp, wr).ok()) {
      writer.sendFailed(wr, WcStatus.LOC_QP_OP_ERR);
      if (qp.type() == QpType.RC) {
        engine.enterError();
      } else if (qp.moveToSqError()) {
        engine.flushSendQueue();
      }
      return false;
    }
    // A CQ that overflowed failed the QP: stop taking WRs.
    return writer.sendSucceeded(wr);
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

  /** A local error on the WR at the queue head after the in-flight ones: it fails once they are done. */
  private void failLocally(SendWqe wr, WcStatus status) {
    if (!completer.inflight()) {
      writer.sendFailed(wr, status);
      engine.enterError();
    } else {
      completer.track(new SendWork.FailedLocally(wr, status));
      nextPsn = Psn.add(nextPsn, 1);
      blockedOnFailure = true;
    }
  }

  /** Hands a request to the link; without a route or with a port down it is lost, and the ACK timeout acts. */
  private void transmit(Endpoint peer, Packet p, int attempt) {
    if (peer != null && peer.up()) {
      engine.send(peer, p, attempt);
    }
  }

  /**
   * Sends every in-flight request again from the oldest (go-back-N); the responder skips what it executed
   * already, and answers a READ or an atomic again.
   */
  void retransmit() {
    rounds++;
    int unacked = completer.unackedPsn();
    // Rounds that started at or below the oldest PSN in flight but one are no longer needed for attempts.
    while (roundStarts.size() > 1) {
      int[] first = roundStarts.pollFirst();
      if (Psn.compare(roundStarts.peekFirst()[0], unacked) > 0) {
        roundStarts.addFirst(first);
        break;
      }
    }
    Endpoint peer = engine.link().connected();
    int sent = 0;
    for (SendWork w : completer.inflightList()) {
      if (!(w instanceof SendWork.Transmitted t)) {
        break; // a local failure: nothing after it was sent
      }
      transmit(peer, t.packet(), attemptOf(t.packet().psn()));
      if (++sent == maxBatch) {
        engine.link().flush();
        sent = 0;
      }
    }
    completer.startAckTimer();
  }

  /** Which transmission of {@code psn} the next one is (0: the first), from the go-back-N rounds. */
  private int attemptOf(int psn) {
    int round = -1;
    for (int[] start : roundStarts) {
      if (Psn.compare(start[0], psn) > 0) {
        break;
      }
      round = start[1];
    }
    return round < 0 ? 0 : rounds - round;
  }

  /** UC and UD: the payload is copied into the packet; the send completes as it leaves. */
  private void sendUnreliable() {
    SendWqe wr;
    while ((wr = sq.take()) != null) {
      if (LocalOperations.isLocal(wr.opcode())) {
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
        writer.sendFailed(wr, WcStatus.LOC_PROT_ERR);
        // UD and UC send errors move the QP to SQE; the receive side keeps working.
        if (qp.moveToSqError()) {
          engine.flushSendQueue();
        }
        return;
      }
      sendMessage(wr, new Payload.Bytes(data));
      writer.sendSucceeded(wr);
    }
  }

  private void sendMessage(SendWqe wr, Payload data) {
    int psn = nextPsn;
    nextPsn = Psn.add(nextPsn, 1); // UC and UD: the responder does not check it, as rxe for an only packet
    if (qp.type() == QpType.UD) {
      AhAttr ah = wr.ah();
      if (engine.portState(ah.portNum()) != PortState.ACTIVE) {
        return;
      }
      Endpoint to = engine.link().datagram(ah, wr.remoteQpn());
      if (to == null || !to.up()) {
        return;
      }
      Grh grh = ah.grh() ? new Grh(engine.gid(ah.portNum()), ah.dgid(), ah.trafficClass(), 0, ah.hopLimit()) : null;
      Packet p = new Packet(Opcode.forRequest(wr.opcode()), qp.qpNum(), wr.remoteQpn(), psn, false,
          wr.has(SendFlags.SOLICITED), engine.epoch(), 0, 0, 0, 0, immOrKey(wr), 0, 0, 0, wr.remoteQkey(),
          engine.lid(ah.portNum()), grh, data);
      engine.send(to, p, 0);
    } else {
      Endpoint to = engine.link().connected();
      if (to == null || !to.up()) {
        return;
      }
      engine.send(to, request(wr, qp.qpNum(), qp.attributes().destQpNum(), psn, 0, null, data), 0);
    }
  }

  /** A request packet for {@code wr} (rxe's {@code init_req_packet}): BTH, and RETH, AtomicETH or ImmDt/IETH. */
  private Packet request(SendWqe wr, int srcQpn, int destQpn, int psn, int slid, Grh grh, Payload data) {
    Opcode op = Opcode.forRequest(wr.opcode());
    long length = wr.length();
    return new Packet(op, srcQpn, destQpn, psn, qp.type() == QpType.RC, wr.has(SendFlags.SOLICITED),
        engine.epoch(), 0, wr.remoteAddr(), wr.rkey(), (int) Math.min(length, Integer.MAX_VALUE), immOrKey(wr),
        wr.compareAdd(), wr.swap(), 0, 0, slid, grh, data);
  }

  private static int immOrKey(SendWqe wr) {
    if (wr.opcode() == WrOpcode.SEND_WITH_INV) {
      return wr.invalidateRkey();
    }
    return wr.opcode().hasImm() ? wr.immData() : 0;
  }

  /** An ACK retired a READ or an atomic: a slot of max_rd_atomic is free. */
  void rdAtomicRetired() {
    rdAtomicInflight--;
  }

  /**
   * An ACK came while a WR is held back: it may go now. Returns true if the requester was held back (the
   * caller then drains the send queue; in a state other than RTS that waits, and the move back to RTS
   * resumes the held WR).
   */
  boolean acksArrived() {
    if (blockedOnAcks) {
      blockedOnAcks = false;
      return true;
    }
    return false;
  }

  /** Flushes what the requester holds: the held-back WR, then the send queue (WR_FLUSH_ERR, in order). */
  void flush() {
    rdAtomicInflight = 0;
    blockedOnAcks = false;
    blockedOnFailure = false;
    if (heldBack != null) {
      writer.sendFlushed(heldBack);
      heldBack = null;
    }
    SendWqe wqe;
    while ((wqe = sq.take()) != null) {
      writer.sendFlushed(wqe);
    }
  }

  /** A flush or reset ended every round: attempt numbers start over. */
  void forgetRounds() {
    roundStarts.clear();
    roundRecorded = -1;
  }

  /** RESET: everything the requester knew is gone (the midlayer freed the slots). */
  void reset() {
    ready = false;
    blockedOnFailure = false;
    blockedOnAcks = false;
    heldBack = null;
    rdAtomicInflight = 0;
    forgetRounds();
  }

  /** A local failure reached the head and failed: the requester stops being blocked on it (the QP is in ERR). */
  void failureReached() {
    blockedOnFailure = false;
  }
}
