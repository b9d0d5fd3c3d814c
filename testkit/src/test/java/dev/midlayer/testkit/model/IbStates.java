package dev.midlayer.testkit.model;

import static dev.midlayer.ib.QpAttrMask.ACCESS_FLAGS;
import static dev.midlayer.ib.QpAttrMask.AV;
import static dev.midlayer.ib.QpAttrMask.DEST_QPN;
import static dev.midlayer.ib.QpAttrMask.MAX_DEST_RD_ATOMIC;
import static dev.midlayer.ib.QpAttrMask.MAX_QP_RD_ATOMIC;
import static dev.midlayer.ib.QpAttrMask.MIN_RNR_TIMER;
import static dev.midlayer.ib.QpAttrMask.PATH_MTU;
import static dev.midlayer.ib.QpAttrMask.PKEY_INDEX;
import static dev.midlayer.ib.QpAttrMask.PORT;
import static dev.midlayer.ib.QpAttrMask.QKEY;
import static dev.midlayer.ib.QpAttrMask.RETRY_CNT;
import static dev.midlayer.ib.QpAttrMask.RNR_RETRY;
import static dev.midlayer.ib.QpAttrMask.RQ_PSN;
import static dev.midlayer.ib.QpAttrMask.SQ_PSN;
import static dev.midlayer.ib.QpAttrMask.TIMEOUT;

import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;

/**
 * The models' own copy of the IB QP state machine (IBA vol. 1 §10.3.1, the kernel's {@code qp_state_table}),
 * written from the spec and independent of {@link dev.midlayer.ib.QpStateTable} (the code under test): which
 * transitions exist, the attributes each requires, and what a post may do in each state. Only what the models
 * need: the optional attributes are not listed (the models never set one; they add a bit that is surely not
 * allowed, {@link #forbiddenBit}, when they want a refusal).
 */
final class IbStates {
  private IbStates() {}

  /** True if {@code from -> to} is a transition of the state machine for {@code type}. */
  static boolean legal(QpType type, QpState from, QpState to) {
    if (to == QpState.RESET) {
      return true; // from every state, RESET included
    }
    if (to == QpState.ERR) {
      return from != QpState.RESET;
    }
    return switch (from) {
      case RESET -> to == QpState.INIT;
      case INIT -> to == QpState.INIT || to == QpState.RTR;
      case RTR -> to == QpState.RTS;
      case RTS -> to == QpState.RTS || to == QpState.SQD;
      case SQD -> to == QpState.SQD || to == QpState.RTS;
      case SQE -> to == QpState.RTS;
      case ERR -> false;
    };
  }

  /** The attributes {@code from -> to} requires for {@code type} (a legal transition). */
  static int required(QpType type, QpState from, QpState to) {
    boolean ud = type == QpType.UD;
    boolean rc = type == QpType.RC;
    if (from == QpState.RESET && to == QpState.INIT) {
      return PKEY_INDEX | PORT | (ud ? QKEY : ACCESS_FLAGS);
    }
    if (from == QpState.INIT && to == QpState.RTR) {
      return ud ? 0 : AV | PATH_MTU | DEST_QPN | RQ_PSN | (rc ? MAX_DEST_RD_ATOMIC | MIN_RNR_TIMER : 0);
    }
    if (from == QpState.RTR && to == QpState.RTS) {
      return SQ_PSN | (rc ? TIMEOUT | RETRY_CNT | RNR_RETRY | MAX_QP_RD_ATOMIC : 0);
    }
    return 0;
  }

  /** An attribute bit that {@code from -> to} neither requires nor allows for {@code type}. */
  static int forbiddenBit(QpType type, QpState from, QpState to) {
    // DEST_QPN belongs to INIT -> RTR of connected QPs only; SQ_PSN to RTR -> RTS (and SQD -> SQD of none).
    return from == QpState.INIT && to == QpState.RTR && type != QpType.UD ? SQ_PSN : DEST_QPN;
  }

  /** True if a send may be posted in {@code s} (IBA: RTS, SQD queues it, SQE and ERR flush it). */
  static boolean sendAllowed(QpState s) {
    return s == QpState.RTS || s == QpState.SQD || s == QpState.SQE || s == QpState.ERR;
  }

  /** True if a receive may be posted in {@code s} (from INIT on; in ERR it is flushed). */
  static boolean recvAllowed(QpState s) {
    return s != QpState.RESET;
  }
}
