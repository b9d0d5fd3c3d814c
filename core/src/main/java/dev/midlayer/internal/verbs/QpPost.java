package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;

/**
 * Internal API. The post verbs of a QP ({@code ib_post_send}, {@code ib_post_recv}): the checks IB makes at
 * post time, the snapshot of what must not change after the post (inline payload, a REG_MR's page list, a
 * UD path), and the hand-off into the lock-free work queue with its doorbell. Never blocks; any thread.
 */
final class QpPost {
  private QpPost() {}

  /** One WR of a post; {@code m} is the monitor the verb read once (null: none attached). */
  static void send(QpImpl qp, SendWr wr, int index, dev.midlayer.monitor.ContractMonitor m) {
    if (wr == null) {
      throw new PostException(PostException.Reason.INVALID, index, "null work request");
    }
    if (qp.destroyed) {
      throw destroyed(qp, index, "postSend");
    }
    QpState s = qp.state.get();
    if (s == QpState.RESET || s == QpState.INIT || s == QpState.RTR) {
      throw invalid(index, "QP " + qp.qpNum + " is in " + s + ": posting sends needs RTS, SQD, SQE or ERR");
    }
    if (!wr.opcode().validOn(qp.type)) {
      throw invalid(index, wr.opcode() + " is not valid on a " + qp.type + " QP");
    }
    if (!qp.driver.supports(wr.opcode())) {
      throw invalid(index, "the " + qp.device().driverName() + " driver does not execute " + wr.opcode() + " (yet)");
    }
    if (wr.sgList().size() > qp.cap.maxSendSge()) {
      throw invalid(index, wr.sgList().size() + " SGEs exceed maxSendSge " + qp.cap.maxSendSge());
    }
    long length = wr.length();
    if ((wr.opcode() == WrOpcode.ATOMIC_CMP_AND_SWP || wr.opcode() == WrOpcode.ATOMIC_FETCH_AND_ADD) && length != 8) {
      throw invalid(index, "an atomic needs local SGEs of 8 bytes in all (the original value), not " + length);
    }
    AhAttr path = null;
    if (qp.type == QpType.UD) {
      AddressHandle ah = wr.ah();
      if (ah == null) {
        throw invalid(index, "a UD send needs an address handle");
      }
      if (ah.pd() != qp.pd) {
        throw invalid(index, "the address handle is of " + ah.pd() + ", the QP of " + qp.pd);
      }
      // One read of the handle's path: a destroy racing this post makes it INVALID, never anything else.
      path = ah instanceof AhImpl impl ? impl.attrIfValid() : null;
      if (path == null) {
        throw invalid(index, "the address handle was destroyed");
      }
      if ((wr.remoteQpn() & ~0xFFFFFF) != 0) {
        throw invalid(index, "remoteQpn " + wr.remoteQpn() + " is not a 24-bit QP number");
      }
      PortAttributes port = qp.device().cachedPort(path.portNum());
      if (length > port.activeMtu().bytes()) {
        throw invalid(index, "a UD message of " + length + " bytes exceeds the path MTU " + port.activeMtu().bytes());
      }
    } else if (length > maxMsgSize(qp)) {
      throw invalid(index, "a message of " + length + " bytes exceeds the port's maxMsgSize " + maxMsgSize(qp));
    }
    MrMapping staged = null;
    if (wr.opcode() == WrOpcode.REG_MR || wr.opcode() == WrOpcode.LOCAL_INV) {
      if (!wr.sgList().isEmpty()) {
        throw invalid(index, wr.opcode() + " carries no data, but has " + wr.sgList().size() + " SGE(s)");
      }
      if (wr.opcode() == WrOpcode.REG_MR) {
        staged = stagedPages(wr, index);
      }
    }
    byte[] inline = null;
    if (wr.has(SendFlags.INLINE)) {
      if (!wr.opcode().allowsInline()) {
        throw invalid(index, wr.opcode() + " cannot carry inline data");
      }
      if (length > qp.cap.maxInlineData()) {
        throw invalid(index, length + " bytes of inline data exceed maxInlineData " + qp.cap.maxInlineData());
      }
      inline = gatherInline(qp, wr, (int) length, index);
    }
    boolean signaled = qp.signalAll || wr.has(SendFlags.SIGNALED);
    if (!qp.offerSend(new PostedSend(wr, length, inline, staged, path), signaled, m)) {
      throw new PostException(PostException.Reason.QUEUE_FULL, index,
          "the send queue of QP " + qp.qpNum + " is full (" + qp.sq.capacity() + " outstanding)");
    }
    if (qp.sq.ringDoorbell()) {
      qp.driver.sendDoorbell();
    }
  }

  /** Copies an inline request's payload now; the lkeys only locate the bytes (no access check, as in IB). */
  private static byte[] gatherInline(QpImpl qp, SendWr wr, int length, int index) {
    byte[] data = new byte[length];
    int pos = 0;
    KeyTable keys = qp.device().verbs().keys();
    for (int i = 0, n = wr.sgList().size(); i < n; i++) {
      Sge sge = wr.sgList().get(i);
      MrMapping m = keys.resolve(sge.lkey());
      if (m == null || !m.contains(sge.addr(), sge.length())) {
        throw invalid(index, String.format("inline data: SGE (addr 0x%x, %d bytes, lkey 0x%x) is not in a "
            + "registered region", sge.addr(), sge.length(), sge.lkey()));
      }
      m.get(sge.addr(), data, pos, sge.length());
      pos += sge.length();
    }
    return data;
  }

  /**
   * The static checks of a REG_MR, and the snapshot of its region's page list (null if it has none). What
   * depends on the region's state, kind, PD and key is checked when it executes, as rxe does, and fails
   * with LOC_QP_OP_ERR.
   */
  private static MrMapping stagedPages(SendWr wr, int index) {
    if (wr.regMr() == null) {
      throw invalid(index, "REG_MR needs a region (SendWr.Builder.reg)");
    }
    try {
      AccessFlags.validateMr(wr.regAccess(), "regAccess");
    } catch (InvalidArgumentException e) {
      throw invalid(index, "REG_MR: " + e.getMessage());
    }
    return wr.regMr() instanceof FastRegMr fr ? fr.staged() : null;
  }

  /** One receive of a post; {@code m} as for {@link #send}. */
  static void recv(QpImpl qp, RecvWr wr, int index, dev.midlayer.monitor.ContractMonitor m) {
    if (wr == null) {
      throw new PostException(PostException.Reason.INVALID, index, "null work request");
    }
    if (qp.destroyed) {
      throw destroyed(qp, index, "postRecv");
    }
    if (qp.srq != null) {
      throw invalid(index, "QP " + qp.qpNum + " takes its receives from " + qp.srq + ": post them there");
    }
    if (qp.state.get() == QpState.RESET) {
      throw invalid(index, "QP " + qp.qpNum + " is in RESET: posting receives needs INIT or later");
    }
    if (wr.sgList().size() > qp.cap.maxRecvSge()) {
      throw invalid(index, wr.sgList().size() + " SGEs exceed maxRecvSge " + qp.cap.maxRecvSge());
    }
    if (!qp.offerRecv(new PostedRecv(wr), m)) {
      throw new PostException(PostException.Reason.QUEUE_FULL, index,
          "the receive queue of QP " + qp.qpNum + " is full (" + qp.rq.capacity() + " outstanding)");
    }
    // Posted while in ERR: it must be flushed too. The post happens before this read, and a move to ERR
    // flushes after its own write, so every receive is flushed by one of the two.
    if (qp.state.get() == QpState.ERR) {
      qp.driver.flushDoorbell();
    }
  }

  /** A post to a QP that is gone: the device's unregistration is the better explanation, if that is why. */
  private static PostException destroyed(QpImpl qp, int index, String verb) {
    qp.device().checkUsable(verb);
    return invalid(index, "QP " + qp.qpNum + " was destroyed");
  }

  private static PostException invalid(int index, String message) {
    return new PostException(PostException.Reason.INVALID, index, message);
  }

  private static long maxMsgSize(QpImpl qp) {
    int port = qp.attr.portNum();
    return qp.device().cachedPort(port >= 1 && port <= qp.device().portCount() ? port : 1).maxMsgSize();
  }
}
