package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;

/**
 * The responder (rxe's {@code rxe_resp.c}): checks each request's PSN, executes it once, and answers. RC: a
 * request at the expected PSN runs (a SEND into the next receive, the one-sided operations by the
 * {@link RdmaResponder}); a duplicate is answered again and never executed twice; a gap (requests were lost)
 * is NAKed once with the PSN expected; a run of requests that executed gets one cumulative ACK; a request the
 * responder cannot take now gets an RNR NAK with its {@code min_rnr_timer}; a request it must refuse gets a NAK
 * and moves this QP to ERR (ib-semantics §8). UC and UD: nothing is answered, and whatever goes wrong drops the
 * message silently (a receive that is too small completes with LOC_LEN_ERR).
 *
 * <p>Threading: the QP's engine actor only.
 */
final class Responder {
  private final QpEngine engine;
  private final QpContext qp;
  private final MemoryKeys keys;
  private final CompletionWriter writer;
  private final RdmaResponder rdma;

  private boolean ready;
  private int expectedPsn;
  /** A PSN sequence NAK was sent for the current gap: the next ones are not answered until it is filled. */
  private boolean sentPsnNak;
  private boolean commEstablished;
  private boolean lastWqeReported;

  Responder(QpEngine engine, CompletionWriter writer) {
    this.engine = engine;
    this.qp = engine.qp();
    this.keys = qp.device().memory();
    this.writer = writer;
    this.rdma = new RdmaResponder(this);
  }

  QpContext qp() {
    return qp;
  }

  MemoryKeys keys() {
    return keys;
  }

  CompletionWriter writer() {
    return writer;
  }

  QpEngine engine() {
    return engine;
  }

  /** The receive side starts at rq_psn (on the move to RTR, or with the first request, whichever is first). */
  void start() {
    if (!ready) {
      ready = true;
      expectedPsn = qp.attributes().rqPsn();
    }
  }

  /** The requests of one inbound message, from {@code from} (where answers go). */
  void onRequests(Endpoint from, Packet[] packets, int first, int end) {
    QpState s = qp.state();
    // Requests to a QP below RTR, or in ERR, are dropped without an answer (rxe's receive checks).
    if (s == QpState.RESET || s == QpState.INIT || s == QpState.ERR) {
      return;
    }
    start();
    if (s == QpState.RTR && !commEstablished) {
      commEstablished = true;
      qp.raiseEvent(AsyncEventType.COMM_EST);
    }
    if (qp.type() == QpType.RC) {
      receiveReliable(from, packets, first, end);
    } else {
      for (int i = first; i < end; i++) {
        receiveUnreliable(packets[i]);
      }
    }
  }

  private void receiveReliable(Endpoint from, Packet[] packets, int first, int end) {
    boolean executed = false;
    long epoch = 0;
    for (int i = first; i < end; i++) {
      Packet p = packets[i];
      epoch = p.epoch();
      int psn = p.psn();
      if (Psn.compare(psn, expectedPsn) < 0) {
        // A duplicate of something executed: answered again, never executed twice.
        engine.counters().countDuplicate();
        executed |= rdma.duplicate(from, p);
        continue;
      }
      if (psn != expectedPsn) {
        // A gap (requests were lost): NAK once with the PSN expected, and drop until it is filled.
        if (!sentPsnNak) {
          sentPsnNak = true;
          answer(from, p.srcQpn(), expectedPsn, epoch, Aeth.nak(Aeth.NAK_PSN_SEQUENCE_ERROR));
        }
        return;
      }
      sentPsnNak = false;
      int result = execute(from, p);
      if (result == RdmaResponder.ANSWERED) {
        // A READ response or an atomic acknowledgement went out: it acknowledges everything up to it.
        expectedPsn = Psn.add(expectedPsn, 1);
        executed = false;
        continue;
      }
      if (!Aeth.isAck(result)) {
        // A NAK of psn says everything before it executed: no ACK of its own is needed.
        answer(from, p.srcQpn(), psn, epoch, result);
        return;
      }
      expectedPsn = Psn.add(expectedPsn, 1);
      executed = true;
    }
    if (executed) {
      answer(from, packets[first].srcQpn(), Psn.add(expectedPsn, -1), epoch, Aeth.ack());
    }
  }

  /** An ACK or NAK of {@code psn} to the requester {@code requesterQpn} at {@code to}. */
  void answer(Endpoint to, int requesterQpn, int psn, long epoch, int aeth) {
    engine.send(to, Packet.acknowledge(qp.qpNum(), requesterQpn, psn, epoch, aeth), 0);
  }

  /** Executes one RC request at the expected PSN; returns the AETH to answer ({@link Aeth#ack()}: it ran). */
  private int execute(Endpoint from, Packet p) {
    switch (p.opcode()) {
      case RDMA_WRITE_ONLY, RDMA_WRITE_ONLY_WITH_IMMEDIATE -> {
        return rdma.write(p);
      }
      case RDMA_READ_REQUEST -> {
        return rdma.read(from, p);
      }
      case COMPARE_SWAP, FETCH_ADD -> {
        return rdma.atomic(from, p);
      }
      default -> { }
    }
    if (!p.opcode().isSend()) {
      engine.enterError(); // not an operation a responder executes: an invalid request (class C)
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST);
    }
    return send(p);
  }

  /** An RC SEND: the message goes into the next receive. */
  private int send(Packet p) {
    Source src = Source.of(p);
    if (src == null) {
      // The source was deregistered after it was posted: the requester's local protection error.
      return Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION);
    }
    RecvWqe recv = qp.takeRecv();
    if (recv == null) {
      return Aeth.rnrNak(qp.attributes().minRnrTimer());
    }
    long length = p.payloadLength();
    if (length > recv.capacity()) {
      writer.recvFailed(recv, WcStatus.LOC_LEN_ERR);
      engine.enterError();
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST);
    }
    MemoryMapping dstMap = recv.sgeCount() == 1 ? SgCopy.resolve(recv, 0, keys, qp.pdHandle(), true) : null;
    MemoryMapping[] dstMaps = recv.sgeCount() == 1 ? null : SgCopy.resolveAll(recv, keys, qp.pdHandle(), true);
    if (dstMap == null && dstMaps == null) {
      writer.recvFailed(recv, WcStatus.LOC_PROT_ERR);
      engine.enterError();
      return Aeth.nak(Aeth.NAK_REMOTE_OPERATIONAL_ERROR);
    }
    src.copyTo(recv, dstMap, dstMaps, length);
    if (!invalidateFor(p, recv)) {
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST);
    }
    completeRecv(recv, p, (int) length, p.srcQpn(), 0, 0);
    return Aeth.ack();
  }

  /** UC and UD: a message with its payload copied; anything wrong drops it. */
  private void receiveUnreliable(Packet p) {
    if (p.opcode() == Opcode.RDMA_WRITE_ONLY || p.opcode() == Opcode.RDMA_WRITE_ONLY_WITH_IMMEDIATE) {
      rdma.writeUnreliable(p);
      return;
    }
    if (!p.opcode().isSend()) {
      return;
    }
    if (qp.type() == QpType.UD && p.qkey() != qp.attributes().qkey()) {
      return; // Q_Key mismatch: dropped
    }
    RecvWqe recv = qp.takeRecv();
    if (recv == null) {
      return; // no receive posted: UC and UD drop the message
    }
    byte[] data = ((Payload.Bytes) p.payload()).data();
    int grh = qp.type() == QpType.UD ? Grh.BYTES : 0;
    long length = data.length;
    if (length + grh > recv.capacity()) {
      writer.recvFailed(recv, WcStatus.LOC_LEN_ERR);
      return;
    }
    MemoryMapping[] dst = SgCopy.resolveAll(recv, keys, qp.pdHandle(), true);
    if (dst == null) {
      writer.recvFailed(recv, WcStatus.LOC_PROT_ERR);
      return;
    }
    int flags = 0;
    if (grh > 0 && p.grh() != null) {
      SgCopy.copy(p.grh().toBytes(data.length), null, null, Grh.BYTES, recv, dst, 0);
      flags |= WcFlags.GRH;
    }
    SgCopy.copy(data, null, null, length, recv, dst, grh);
    if (!invalidateFor(p, recv)) {
      return; // UC: nothing is sent back
    }
    // UD: byte_len counts the 40-byte GRH area too, filled or not (IBA 11.4.2.1; rxe and libibverbs do so).
    completeRecv(recv, p, (int) (length + grh), p.srcQpn(), p.slid(), flags);
  }

  /**
   * SEND_WITH_INV (IETH): invalidates the responder's key once the data is in. A failure is class J: the
   * receive completes with REM_INV_REQ_ERR and the QP goes to ERR; returns false then. Other opcodes: true.
   */
  private boolean invalidateFor(Packet p, RecvWqe recv) {
    if (p.opcode() != Opcode.SEND_ONLY_WITH_INVALIDATE || LocalOperations.invalidate(qp, p.immOrKey()).ok()) {
      return true;
    }
    writer.recvFailed(recv, WcStatus.REM_INV_REQ_ERR);
    engine.enterError();
    return false;
  }

  /** A successful receive of request {@code p}. */
  void completeRecv(RecvWqe recv, Packet p, int length, int srcQp, int slid, int flags) {
    WrOpcode op = p.opcode().wrOpcode();
    int invalidated = op == WrOpcode.SEND_WITH_INV ? p.immOrKey() : 0;
    writer.recvSucceeded(recv, op, p.immOrKey(), p.solicited(), length, srcQp, slid, flags, invalidated);
  }

  /** The QP flushed: its receives are flushed (or, on an SRQ, LAST_WQE_REACHED is raised once). */
  void flush() {
    lastWqeReported = writer.flushReceives(qp.recvQueue(), lastWqeReported);
  }

  /** RESET: the receive side starts over. */
  void reset() {
    ready = false;
    sentPsnNak = false;
    commEstablished = false;
    lastWqeReported = false;
    rdma.reset();
  }

  /**
   * Where a request's data comes from: the requester's registered memory (an in-JVM link; the SGEs resolved
   * with the requester's keys and protection domain now, so a region deregistered after the post is caught) or
   * bytes that came in the packet.
   */
  record Source(byte[] bytes, SendWqe wr, MemoryMapping one, MemoryMapping[] maps) {
    /** The source of {@code p}'s payload, or null if the requester's SGEs no longer resolve. */
    static Source of(Packet p) {
      Payload payload = p.payload();
      if (payload == null) {
        return new Source(new byte[0], null, null, null);
      }
      if (payload instanceof Payload.Bytes b) {
        return new Source(b.data(), null, null, null);
      }
      if (payload instanceof Payload.Unreadable) {
        return null;
      }
      Payload.Wqe w = (Payload.Wqe) payload;
      SendWqe wr = w.wr();
      if (wr.inlineData() != null) {
        return new Source(wr.inlineData(), null, null, null);
      }
      MemoryKeys srcKeys = w.owner().device().memory();
      int srcPd = w.owner().pdHandle();
      // The common case, one SGE: its key is resolved once and the bytes move piece by piece.
      if (wr.sgeCount() == 1) {
        MemoryMapping one = SgCopy.resolve(wr, 0, srcKeys, srcPd, false);
        return one == null ? null : new Source(null, wr, one, null);
      }
      MemoryMapping[] maps = SgCopy.resolveAll(wr, srcKeys, srcPd, false);
      return maps == null ? null : new Source(null, wr, null, maps);
    }

    /** Copies {@code length} bytes into the receive's resolved SGEs. */
    void copyTo(RecvWqe recv, MemoryMapping dstMap, MemoryMapping[] dstMaps, long length) {
      if (length == 0) {
        return;
      }
      if (dstMap != null && bytes != null) {
        dstMap.put(recv.sgeAddr(0), bytes, 0, (int) length);
      } else if (dstMap != null && one != null) {
        MemoryMapping.copy(one, wr.sgeAddr(0), dstMap, recv.sgeAddr(0), length);
      } else {
        SgCopy.copy(bytes, wr, maps != null ? maps : new MemoryMapping[] {one}, length, recv,
            dstMaps != null ? dstMaps : new MemoryMapping[] {dstMap}, 0);
      }
    }

    /** Copies {@code length} bytes into {@code target} at {@code addr} (an RDMA WRITE). */
    void copyTo(MemoryMapping target, long addr, long length) {
      if (bytes != null) {
        target.put(addr, bytes, 0, (int) length);
      } else if (one != null) {
        MemoryMapping.copy(one, wr.sgeAddr(0), target, addr, length);
      } else {
        long at = addr;
        for (int i = 0; i < maps.length; i++) {
          MemoryMapping.copy(maps[i], wr.sgeAddr(i), target, at, wr.sgeLength(i));
          at += wr.sgeLength(i);
        }
      }
    }
  }
}
