package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The responder side of the one-sided RC operations (RDMA WRITE, WRITE_WITH_IMM, READ, and the atomics; rxe's
 * {@code execute} with {@code check_rkey}). Every remote access is checked as IB's responder does (ib-semantics
 * §3.9, §8.4): the QP must accept the operation (its access flags), the rkey must name a valid region of the
 * responder QP's protection domain that grants the right, and {@code [addr, addr+len)} must lie inside it. A
 * failure writes nothing, moves the responder QP to ERR, and NAKs the requester (remote access error, or
 * invalid request where IB says so).
 *
 * <p>Over a link that shares memory ({@link Payload.Wqe}), READ data and atomic results go straight into the
 * requester's SGEs and a plain ACK follows; over a wire, a READ response or an atomic acknowledgement carries
 * them, and the results of recent atomics are kept so that a duplicate request gets the same answer without
 * executing twice (IBA 9.7.5.2.5, rxe's responder resources).
 *
 * <p>Regions may be one buffer or a list of pages (fast registration, FMRs): the rkey is resolved once into a
 * {@link MemoryMapping} snapshot and the bytes move piece by piece. Atomics use a {@link VarHandle} on the
 * region's buffer, so they are atomic with respect to every other atomic on any region of any device, from any
 * QP and any thread. The 8-byte value is <b>big-endian</b> (network order, as on the IB wire).
 *
 * <p>Threading: the QP's engine actor only.
 */
final class RdmaResponder {
  /** Returned instead of an AETH when the responder answered itself (a READ response, an atomic ACK). */
  static final int ANSWERED = -1;

  private static final VarHandle LONG_BE =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
  /** Atomic results kept for duplicates: at least max_dest_rd_atomic of IB's devices (16 here). */
  private static final int ATOMIC_RESULTS = 16;

  private final Responder responder;
  private final QpContext qp;
  private final int[] atomicPsns = new int[ATOMIC_RESULTS];
  private final long[] atomicResults = new long[ATOMIC_RESULTS];
  private int atomicNext;

  RdmaResponder(Responder responder) {
    this.responder = responder;
    this.qp = responder.qp();
    reset();
  }

  void reset() {
    Arrays.fill(atomicPsns, -1);
    atomicNext = 0;
  }

  /** RDMA_WRITE and RDMA_WRITE_WITH_IMM: the data goes to the responder's memory; WITH_IMM also consumes a receive. */
  int write(Packet p) {
    long length = p.payloadLength();
    Responder.Source src = Responder.Source.of(p);
    if (src == null) {
      return Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION);
    }
    // As the responder's pipeline does (§8.4): the receive WQE is taken (or RNR) before the key check, so
    // a class C error completes that receive with the error.
    RecvWqe recv = null;
    if (p.opcode() == Opcode.RDMA_WRITE_ONLY_WITH_IMMEDIATE) {
      recv = qp.takeRecv();
      if (recv == null) {
        return Aeth.rnrNak(qp.attributes().minRnrTimer());
      }
    }
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_WRITE) == 0) {
      return fail(recv, WcStatus.REM_INV_REQ_ERR, Aeth.NAK_INVALID_REQUEST);
    }
    MemoryMapping target = length == 0 ? null : remote(p.rkey(), p.remoteAddr(), length, AccessFlags.REMOTE_WRITE);
    if (length > 0 && target == null) {
      return fail(recv, WcStatus.REM_ACCESS_ERR, Aeth.NAK_REMOTE_ACCESS_ERROR);
    }
    if (length > 0) {
      src.copyTo(target, p.remoteAddr(), length);
    }
    if (recv != null) {
      // The receive's buffers are not written; its completion says how much was written where.
      responder.completeRecv(recv, p, (int) length, p.srcQpn(), 0, 0);
    }
    return Aeth.ack();
  }

  /** RDMA_READ: the responder's bytes go to the requester, into its SGEs or in a READ response. */
  int read(Endpoint from, Packet p) {
    long length = Integer.toUnsignedLong(p.dmaLength());
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_READ) == 0) {
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST);
    }
    MemoryMapping source = length == 0 ? null : remote(p.rkey(), p.remoteAddr(), length, AccessFlags.REMOTE_READ);
    if (length > 0 && source == null) {
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_REMOTE_ACCESS_ERROR);
    }
    if (!(p.payload() instanceof Payload.Wqe w)) {
      respondRead(from, p, source, length);
      return ANSWERED;
    }
    if (length == 0) {
      return Aeth.ack();
    }
    SendWqe wr = w.wr();
    QpContext requester = w.owner();
    if (wr.sgeCount() == 1) {
      MemoryMapping dstOne = SgCopy.resolve(wr, 0, requester.device().memory(), requester.pdHandle(), true);
      if (dstOne == null) {
        return Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION);
      }
      MemoryMapping.copy(source, p.remoteAddr(), dstOne, wr.sgeAddr(0), length);
      return Aeth.ack();
    }
    MemoryMapping[] dst = SgCopy.resolveAll(wr, requester.device().memory(), requester.pdHandle(), true);
    if (dst == null) {
      return Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION);
    }
    long at = p.remoteAddr();
    for (int i = 0; i < dst.length; i++) {
      MemoryMapping.copy(source, at, dst[i], wr.sgeAddr(i), wr.sgeLength(i));
      at += wr.sgeLength(i);
    }
    return Aeth.ack();
  }

  private void respondRead(Endpoint from, Packet p, MemoryMapping source, long length) {
    byte[] data = new byte[(int) length];
    if (length > 0) {
      source.get(p.remoteAddr(), data, 0, (int) length);
    }
    responder.engine().send(from, new Packet(Opcode.RDMA_READ_RESPONSE_ONLY, qp.qpNum(), p.srcQpn(), p.psn(),
        false, false, p.epoch(), Aeth.ack(), 0, 0, 0, 0, 0, 0, 0, 0, 0, null, new Payload.Bytes(data)), 0);
  }

  /** ATOMIC_CMP_AND_SWP and ATOMIC_FETCH_AND_ADD on 8 aligned bytes; the original value goes to the requester. */
  int atomic(Endpoint from, Packet p) {
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_ATOMIC) == 0) {
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST);
    }
    if ((p.remoteAddr() & 7) != 0) {
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_INVALID_REQUEST); // misaligned: REM_INV_REQ_ERR at the requester
    }
    MemoryMapping target = remote(p.rkey(), p.remoteAddr(), 8, AccessFlags.REMOTE_ATOMIC);
    if (target == null) {
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_REMOTE_ACCESS_ERROR);
    }
    MemoryMapping[] dst = null;
    SendWqe wr = null;
    if (p.payload() instanceof Payload.Wqe w) {
      wr = w.wr();
      dst = SgCopy.resolveAll(wr, w.owner().device().memory(), w.owner().pdHandle(), true);
      if (dst == null) {
        return Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION);
      }
    }
    // An aligned address never straddles a piece: pages are 4 KiB and a page list starts at the iova's offset.
    ByteBuffer buf = target.buffer(p.remoteAddr());
    int index = target.index(p.remoteAddr());
    if (buf.alignmentOffset(index, 8) != 0) {
      // The address is 8-aligned in the region, but the region's memory is not (a slice at an odd offset).
      responder.engine().enterError();
      return Aeth.nak(Aeth.NAK_REMOTE_OPERATIONAL_ERROR);
    }
    long original;
    if (p.opcode() == Opcode.COMPARE_SWAP) {
      original = (long) LONG_BE.compareAndExchange(buf, index, p.compareAdd(), p.swap());
    } else {
      original = (long) LONG_BE.getAndAdd(buf, index, p.compareAdd());
    }
    if (dst != null) {
      byte[] result = ByteBuffer.allocate(8).putLong(0, original).array();
      SgCopy.copy(result, null, null, 8, wr, dst, 0);
      return Aeth.ack();
    }
    atomicPsns[atomicNext] = p.psn();
    atomicResults[atomicNext] = original;
    atomicNext = (atomicNext + 1) % ATOMIC_RESULTS;
    respondAtomic(from, p, original);
    return ANSWERED;
  }

  private void respondAtomic(Endpoint from, Packet p, long original) {
    responder.engine().send(from, new Packet(Opcode.ATOMIC_ACKNOWLEDGE, qp.qpNum(), p.srcQpn(), p.psn(), false,
        false, p.epoch(), Aeth.ack(), 0, 0, 0, 0, 0, 0, original, 0, 0, null, null), 0);
  }

  /**
   * A duplicate request (its PSN was executed already). Returns true if a cumulative ACK answers it; false if
   * it was answered here: over a wire a READ is read again and sent, an atomic gets its kept result.
   */
  boolean duplicate(Endpoint from, Packet p) {
    if (p.payload() instanceof Payload.Wqe) {
      return true; // the result went into the requester's memory already
    }
    if (p.opcode() == Opcode.RDMA_READ_REQUEST) {
      long length = Integer.toUnsignedLong(p.dmaLength());
      MemoryMapping source = length == 0 ? null : remote(p.rkey(), p.remoteAddr(), length, AccessFlags.REMOTE_READ);
      if (length > 0 && source == null) {
        return true;
      }
      respondRead(from, p, source, length);
      return false;
    }
    if (p.opcode().isAtomic()) {
      for (int i = 0; i < ATOMIC_RESULTS; i++) {
        if (atomicPsns[i] == p.psn()) {
          respondAtomic(from, p, atomicResults[i]);
          return false;
        }
      }
    }
    return true;
  }

  /** A class C error: the current receive (if any) completes with {@code status}, the QP goes to ERR. */
  private int fail(RecvWqe recv, WcStatus status, int nakCode) {
    if (recv != null) {
      responder.writer().recvFailed(recv, status);
    }
    responder.engine().enterError();
    return Aeth.nak(nakCode);
  }

  /** The responder's mapping for a remote access, or null if the key, PD, right or range do not allow it. */
  private MemoryMapping remote(int rkey, long addr, long length, int right) {
    MemoryMapping m = responder.keys().resolve(rkey);
    if (m == null || m.rkey() != rkey || m.pdHandle() != qp.pdHandle() || !m.allows(right)
        || !m.contains(addr, length)) {
      return null;
    }
    return m;
  }

  /**
   * UC RDMA_WRITE and WRITE_WITH_IMM: the payload came in the message. Anything wrong (access, key, range, no
   * receive for the immediate) drops the message silently, as UC does.
   */
  void writeUnreliable(Packet p) {
    byte[] data = ((Payload.Bytes) p.payload()).data();
    long length = data.length;
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_WRITE) == 0) {
      return;
    }
    MemoryMapping target = length == 0 ? null : remote(p.rkey(), p.remoteAddr(), length, AccessFlags.REMOTE_WRITE);
    if (length > 0 && target == null) {
      return;
    }
    RecvWqe recv = null;
    if (p.opcode() == Opcode.RDMA_WRITE_ONLY_WITH_IMMEDIATE && (recv = qp.takeRecv()) == null) {
      return;
    }
    if (length > 0) {
      target.put(p.remoteAddr(), data, 0, (int) length);
    }
    if (recv != null) {
      responder.completeRecv(recv, p, (int) length, p.srcQpn(), 0, 0);
    }
  }
}
