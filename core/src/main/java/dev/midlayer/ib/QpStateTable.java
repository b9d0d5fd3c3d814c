package dev.midlayer.ib;

import static dev.midlayer.ib.QpAttrMask.ACCESS_FLAGS;
import static dev.midlayer.ib.QpAttrMask.ALT_PATH;
import static dev.midlayer.ib.QpAttrMask.AV;
import static dev.midlayer.ib.QpAttrMask.CUR_STATE;
import static dev.midlayer.ib.QpAttrMask.DEST_QPN;
import static dev.midlayer.ib.QpAttrMask.EN_SQD_ASYNC_NOTIFY;
import static dev.midlayer.ib.QpAttrMask.MAX_DEST_RD_ATOMIC;
import static dev.midlayer.ib.QpAttrMask.MAX_QP_RD_ATOMIC;
import static dev.midlayer.ib.QpAttrMask.MIN_RNR_TIMER;
import static dev.midlayer.ib.QpAttrMask.PATH_MIG_STATE;
import static dev.midlayer.ib.QpAttrMask.PATH_MTU;
import static dev.midlayer.ib.QpAttrMask.PKEY_INDEX;
import static dev.midlayer.ib.QpAttrMask.PORT;
import static dev.midlayer.ib.QpAttrMask.QKEY;
import static dev.midlayer.ib.QpAttrMask.RETRY_CNT;
import static dev.midlayer.ib.QpAttrMask.RNR_RETRY;
import static dev.midlayer.ib.QpAttrMask.RQ_PSN;
import static dev.midlayer.ib.QpAttrMask.SQ_PSN;
import static dev.midlayer.ib.QpAttrMask.STATE;
import static dev.midlayer.ib.QpAttrMask.TIMEOUT;

import java.util.EnumMap;
import java.util.Map;

/**
 * The QP state machine: which transitions are legal and which attributes each needs and allows, per QP
 * type ({@code qp_state_table} and {@code ib_modify_qp_is_ok} in the kernel's {@code verbs.c}). The rule:
 * the mask must hold every required bit and no bit outside required, optional and STATE; a mask without
 * STATE means "stay in the current state". Immutable; every method never blocks and may be called from any
 * thread.
 */
public final class QpStateTable {
  private QpStateTable() {}

  /** Required and optional attribute bits of one legal transition for one QP type. */
  public record Rule(int required, int optional) {}

  private static final int STATES = QpState.values().length;
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static final Map<QpType, Rule>[][] TABLE = new Map[STATES][STATES];

  private static void legal(QpState from, QpState to, Rule rc, Rule uc, Rule ud) {
    Map<QpType, Rule> m = new EnumMap<>(QpType.class);
    m.put(QpType.RC, rc);
    m.put(QpType.UC, uc);
    m.put(QpType.UD, ud);
    TABLE[from.ordinal()][to.ordinal()] = m;
  }

  private static Rule r(int required, int optional) {
    return new Rule(required, optional);
  }

  private static final Rule NONE = r(0, 0);

  static {
    legal(QpState.RESET, QpState.RESET, NONE, NONE, NONE);
    legal(QpState.RESET, QpState.INIT,
        r(PKEY_INDEX | PORT | ACCESS_FLAGS, 0),
        r(PKEY_INDEX | PORT | ACCESS_FLAGS, 0),
        r(PKEY_INDEX | PORT | QKEY, 0));
    legal(QpState.INIT, QpState.INIT,
        r(0, PKEY_INDEX | PORT | ACCESS_FLAGS),
        r(0, PKEY_INDEX | PORT | ACCESS_FLAGS),
        r(0, PKEY_INDEX | PORT | QKEY));
    legal(QpState.INIT, QpState.RTR,
        r(AV | PATH_MTU | DEST_QPN | RQ_PSN | MAX_DEST_RD_ATOMIC | MIN_RNR_TIMER, ALT_PATH | ACCESS_FLAGS | PKEY_INDEX),
        r(AV | PATH_MTU | DEST_QPN | RQ_PSN, ALT_PATH | ACCESS_FLAGS | PKEY_INDEX),
        r(0, PKEY_INDEX | QKEY));
    legal(QpState.RTR, QpState.RTS,
        r(TIMEOUT | RETRY_CNT | RNR_RETRY | SQ_PSN | MAX_QP_RD_ATOMIC,
            CUR_STATE | ALT_PATH | ACCESS_FLAGS | MIN_RNR_TIMER | PATH_MIG_STATE),
        r(SQ_PSN, CUR_STATE | ALT_PATH | ACCESS_FLAGS | PATH_MIG_STATE),
        r(SQ_PSN, CUR_STATE | QKEY));
    legal(QpState.RTS, QpState.RTS,
        r(0, CUR_STATE | ACCESS_FLAGS | ALT_PATH | PATH_MIG_STATE | MIN_RNR_TIMER),
        r(0, CUR_STATE | ACCESS_FLAGS | ALT_PATH | PATH_MIG_STATE),
        r(0, CUR_STATE | QKEY));
    legal(QpState.RTS, QpState.SQD,
        r(0, EN_SQD_ASYNC_NOTIFY), r(0, EN_SQD_ASYNC_NOTIFY), r(0, EN_SQD_ASYNC_NOTIFY));
    legal(QpState.SQD, QpState.RTS,
        r(0, CUR_STATE | ALT_PATH | ACCESS_FLAGS | MIN_RNR_TIMER | PATH_MIG_STATE),
        r(0, CUR_STATE | ALT_PATH | ACCESS_FLAGS | PATH_MIG_STATE),
        r(0, CUR_STATE | QKEY));
    legal(QpState.SQD, QpState.SQD,
        r(0, PORT | AV | TIMEOUT | RETRY_CNT | RNR_RETRY | MAX_QP_RD_ATOMIC | MAX_DEST_RD_ATOMIC | ALT_PATH
            | ACCESS_FLAGS | PKEY_INDEX | MIN_RNR_TIMER | PATH_MIG_STATE),
        r(0, AV | ALT_PATH | ACCESS_FLAGS | PKEY_INDEX | PATH_MIG_STATE),
        r(0, PKEY_INDEX | QKEY));
    legal(QpState.SQE, QpState.RTS, NONE, r(0, CUR_STATE | ACCESS_FLAGS), r(0, CUR_STATE | QKEY));
    for (QpState from : new QpState[] {QpState.INIT, QpState.RTR, QpState.RTS, QpState.SQD, QpState.SQE,
        QpState.ERR}) {
      legal(from, QpState.RESET, NONE, NONE, NONE);
      legal(from, QpState.ERR, NONE, NONE, NONE);
    }
  }

  /** The rule for {@code from -> to} on a QP of {@code type}, or null if the transition is not legal. */
  public static Rule rule(QpState from, QpState to, QpType type) {
    Map<QpType, Rule> m = TABLE[from.ordinal()][to.ordinal()];
    return m == null ? null : m.get(type);
  }

  /**
   * Checks a modify of a QP of {@code type} in state {@code current} with {@code mask}; returns the target
   * state. Changes nothing.
   *
   * @param target the requested state (used only when {@code mask} has STATE)
   * @param claimedCurrent the caller's assumed current state (used only when {@code mask} has CUR_STATE)
   * @throws InvalidArgumentException naming the transition and the bits that are missing or not allowed
   */
  public static QpState check(QpType type, QpState current, int mask, QpState target, QpState claimedCurrent) {
    if ((mask & ~QpAttrMask.ALL) != 0) {
      throw new InvalidArgumentException("mask", String.format("unknown attribute bits 0x%x", mask & ~QpAttrMask.ALL));
    }
    QpState to = (mask & STATE) != 0 ? target : current;
    if (to == null) {
      throw new InvalidArgumentException("qpState", "STATE is in the mask but no target state is given");
    }
    Rule rule = rule(current, to, type);
    if (rule == null) {
      throw new InvalidArgumentException("qpState",
          type + " QP: " + current + " -> " + to + " is not a legal transition");
    }
    int missing = rule.required() & ~mask;
    if (missing != 0) {
      throw new InvalidArgumentException("mask", type + " QP " + current + " -> " + to + " requires "
          + QpAttrMask.names(missing));
    }
    int extra = mask & ~(rule.required() | rule.optional() | STATE);
    if (extra != 0) {
      throw new InvalidArgumentException("mask", type + " QP " + current + " -> " + to + " does not allow "
          + QpAttrMask.names(extra));
    }
    if ((mask & CUR_STATE) != 0 && claimedCurrent != current) {
      throw new InvalidArgumentException("curQpState", "claims " + claimedCurrent + " but the QP is in " + current);
    }
    return to;
  }
}
