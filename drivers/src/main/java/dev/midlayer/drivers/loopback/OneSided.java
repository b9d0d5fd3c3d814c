package dev.midlayer.drivers.loopback;

import dev.midlayer.drivers.loopback.QpActor.NakKind;
import dev.midlayer.drivers.loopback.QpActor.Peer;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The responder side of the one-sided RC operations (RDMA WRITE, WRITE_WITH_IMM, READ, and the atomics),
 * run by the responder QP's actor. Every remote access is checked as IB's responder does (ib-semantics
 * §3.9, §8.4): the QP must accept the operation (its access flags), the rkey must name a valid region of
 * the responder QP's protection domain that grants the right, and {@code [addr, addr+len)} must lie inside
 * it. A failure writes nothing, moves the responder QP to ERR, and NAKs the requester (remote access error,
 * or invalid request where IB says so).
 *
 * <p>Regions may be one buffer or a list of pages (fast registration, FMRs): the rkey is resolved once into
 * a {@link MemoryMapping} snapshot and the bytes move piece by piece.
 *
 * <p>Atomics use a {@link VarHandle} on the region's buffer, so they are atomic with respect to every other
 * atomic on any region of any device, from any QP and any thread. The 8-byte value is <b>big-endian</b>
 * (network order, as on the IB wire and as {@code ByteBuffer.getLong} reads it by default); the original
 * value is written big-endian into the requester's local SGE.
 */
final class OneSided {
  private OneSided() {}

  private static final VarHandle LONG_BE =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /** RDMA_WRITE and RDMA_WRITE_WITH_IMM: the data goes to the responder's memory; WITH_IMM also consumes a receive. */
  static NakKind write(QpActor responder, SendWqe wr, Peer from, MemoryKeys srcKeys) {
    QpContext qp = responder.qp();
    long length = wr.length();
    byte[] inline = wr.inlineData();
    int srcPd = from.qp().pdHandle();
    // One SGE (the common case) resolves without allocating.
    MemoryMapping one = null;
    MemoryMapping[] src = null;
    if (inline == null && (wr.sgeCount() == 1
        ? (one = SgCopy.resolve(wr, 0, srcKeys, srcPd, false)) == null
        : (src = SgCopy.resolveAll(wr, srcKeys, srcPd, false)) == null)) {
      return NakKind.LOCAL_PROTECTION;
    }
    // As the responder's pipeline does (§8.4): the receive WQE is taken (or RNR) before the key check, so
    // a class C error completes that receive with the error.
    RecvWqe recv = null;
    if (wr.opcode() == WrOpcode.RDMA_WRITE_WITH_IMM) {
      recv = responder.takeRecv();
      if (recv == null) {
        return NakKind.RNR;
      }
    }
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_WRITE) == 0) {
      return fail(responder, recv, WcStatus.REM_INV_REQ_ERR, NakKind.INVALID_REQUEST);
    }
    MemoryMapping target = length == 0 ? null : remote(responder, wr.rkey(), wr.remoteAddr(), length,
        AccessFlags.REMOTE_WRITE);
    if (length > 0 && target == null) {
      return fail(responder, recv, WcStatus.REM_ACCESS_ERR, NakKind.REMOTE_ACCESS);
    }
    if (length > 0) {
      if (inline != null) {
        target.put(wr.remoteAddr(), inline, 0, (int) length);
      } else if (one != null) {
        MemoryMapping.copy(one, wr.sgeAddr(0), target, wr.remoteAddr(), length);
      } else {
        long at = wr.remoteAddr();
        for (int i = 0; i < src.length; i++) {
          MemoryMapping.copy(src[i], wr.sgeAddr(i), target, at, wr.sgeLength(i));
          at += wr.sgeLength(i);
        }
      }
    }
    if (recv != null) {
      // The receive's buffers are not written; its completion says how much was written where.
      responder.completeRecv(recv, wr, (int) length, from.qp().qpNum(), 0, 0, 0);
    }
    return null;
  }

  /** RDMA_READ: the responder's bytes go into the requester's local SGEs before its ACK. */
  static NakKind read(QpActor responder, SendWqe wr, Peer from, MemoryKeys requesterKeys) {
    QpContext qp = responder.qp();
    long length = wr.length();
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_READ) == 0) {
      responder.enterError();
      return NakKind.INVALID_REQUEST;
    }
    if (length == 0) {
      return null;
    }
    MemoryMapping source = remote(responder, wr.rkey(), wr.remoteAddr(), length, AccessFlags.REMOTE_READ);
    if (source == null) {
      responder.enterError();
      return NakKind.REMOTE_ACCESS;
    }
    int requesterPd = from.qp().pdHandle();
    if (wr.sgeCount() == 1) {
      MemoryMapping dstOne = SgCopy.resolve(wr, 0, requesterKeys, requesterPd, true);
      if (dstOne == null) {
        return NakKind.LOCAL_PROTECTION;
      }
      MemoryMapping.copy(source, wr.remoteAddr(), dstOne, wr.sgeAddr(0), length);
      return null;
    }
    MemoryMapping[] dst = SgCopy.resolveAll(wr, requesterKeys, requesterPd, true);
    if (dst == null) {
      return NakKind.LOCAL_PROTECTION;
    }
    long at = wr.remoteAddr();
    for (int i = 0; i < dst.length; i++) {
      MemoryMapping.copy(source, at, dst[i], wr.sgeAddr(i), wr.sgeLength(i));
      at += wr.sgeLength(i);
    }
    return null;
  }

  /** ATOMIC_CMP_AND_SWP and ATOMIC_FETCH_AND_ADD on 8 aligned bytes; the original value goes to the local SGE. */
  static NakKind atomic(QpActor responder, SendWqe wr, Peer from, MemoryKeys requesterKeys) {
    QpContext qp = responder.qp();
    if ((qp.attributes().accessFlags() & AccessFlags.REMOTE_ATOMIC) == 0) {
      responder.enterError();
      return NakKind.INVALID_REQUEST;
    }
    if ((wr.remoteAddr() & 7) != 0) {
      responder.enterError();
      return NakKind.INVALID_REQUEST; // misaligned: REM_INV_REQ_ERR at the requester
    }
    MemoryMapping target = remote(responder, wr.rkey(), wr.remoteAddr(), 8, AccessFlags.REMOTE_ATOMIC);
    if (target == null) {
      responder.enterError();
      return NakKind.REMOTE_ACCESS;
    }
    MemoryMapping[] dst = SgCopy.resolveAll(wr, requesterKeys, from.qp().pdHandle(), true);
    if (dst == null) {
      return NakKind.LOCAL_PROTECTION;
    }
    // An aligned address never straddles a piece: pages are 4 KiB and a page list starts at the iova's offset.
    ByteBuffer buf = target.buffer(wr.remoteAddr());
    int index = target.index(wr.remoteAddr());
    if (buf.alignmentOffset(index, 8) != 0) {
      // The address is 8-aligned in the region, but the region's memory is not (a slice at an odd offset).
      responder.enterError();
      return NakKind.REMOTE_OPERATIONAL;
    }
    long original;
    if (wr.opcode() == WrOpcode.ATOMIC_CMP_AND_SWP) {
      original = (long) LONG_BE.compareAndExchange(buf, index, wr.compareAdd(), wr.swap());
    } else {
      original = (long) LONG_BE.getAndAdd(buf, index, wr.compareAdd());
    }
    byte[] result = ByteBuffer.allocate(8).putLong(0, original).array();
    SgCopy.copy(result, null, null, 8, wr, dst, 0);
    return null;
  }

  /** A class C error: the current receive (if any) completes with {@code status}, the QP goes to ERR. */
  private static NakKind fail(QpActor responder, RecvWqe recv, WcStatus status, NakKind nak) {
    if (recv != null) {
      responder.completeRecvError(recv, status);
    }
    responder.enterError();
    return nak;
  }

  /** The responder's mapping for a remote access, or null if the key, PD, right or range do not allow it. */
  private static MemoryMapping remote(QpActor responder, int rkey, long addr, long length, int right) {
    MemoryMapping m = responder.keys().resolve(rkey);
    if (m == null || m.rkey() != rkey || m.pdHandle() != responder.qp().pdHandle() || !m.allows(right)
        || !m.contains(addr, length)) {
      return null;
    }
    return m;
  }

  /**
   * UC RDMA_WRITE and WRITE_WITH_IMM: the payload came in the message. Anything wrong (access, key, range,
   * no receive for the immediate) drops the message silently, as UC does.
   */
  static void writeUnreliable(QpActor responder, QpActor.Packet p) {
    SendWqe wr = p.wr();
    long length = p.data().length;
    if ((responder.qp().attributes().accessFlags() & AccessFlags.REMOTE_WRITE) == 0) {
      return;
    }
    MemoryMapping target = length == 0 ? null : remote(responder, wr.rkey(), wr.remoteAddr(), length,
        AccessFlags.REMOTE_WRITE);
    if (length > 0 && target == null) {
      return;
    }
    RecvWqe recv = null;
    if (wr.opcode() == WrOpcode.RDMA_WRITE_WITH_IMM && (recv = responder.takeRecv()) == null) {
      return;
    }
    if (length > 0) {
      target.put(wr.remoteAddr(), p.data(), 0, (int) length);
    }
    if (recv != null) {
      responder.completeRecv(recv, wr, (int) length, p.srcQp(), 0, 0, 0);
    }
  }
}
