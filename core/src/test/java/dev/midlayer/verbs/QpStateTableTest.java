package dev.midlayer.verbs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpStateTable;
import dev.midlayer.ib.QpType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The QP state table of ib-semantics §3.6, checked exhaustively: every from -> to pair for every QP type,
 * every required bit left out, every optional bit, every bit outside the rule. The expected table below is
 * written independently from the reference (as text), not derived from the code under test.
 */
class QpStateTableTest {

  /** from>to | RC required | RC optional | UC required | UC optional | UD required | UD optional. */
  private static final String[] SPEC = {
      "RESET>RESET||||||",
      "RESET>INIT|PKEY_INDEX,PORT,ACCESS_FLAGS||PKEY_INDEX,PORT,ACCESS_FLAGS||PKEY_INDEX,PORT,QKEY|",
      "INIT>INIT||PKEY_INDEX,PORT,ACCESS_FLAGS||PKEY_INDEX,PORT,ACCESS_FLAGS||PKEY_INDEX,PORT,QKEY",
      "INIT>RTR|AV,PATH_MTU,DEST_QPN,RQ_PSN,MAX_DEST_RD_ATOMIC,MIN_RNR_TIMER|ALT_PATH,ACCESS_FLAGS,PKEY_INDEX"
          + "|AV,PATH_MTU,DEST_QPN,RQ_PSN|ALT_PATH,ACCESS_FLAGS,PKEY_INDEX||PKEY_INDEX,QKEY",
      "RTR>RTS|TIMEOUT,RETRY_CNT,RNR_RETRY,SQ_PSN,MAX_QP_RD_ATOMIC|CUR_STATE,ALT_PATH,ACCESS_FLAGS,MIN_RNR_TIMER,"
          + "PATH_MIG_STATE|SQ_PSN|CUR_STATE,ALT_PATH,ACCESS_FLAGS,PATH_MIG_STATE|SQ_PSN|CUR_STATE,QKEY",
      "RTS>RTS||CUR_STATE,ACCESS_FLAGS,ALT_PATH,PATH_MIG_STATE,MIN_RNR_TIMER||CUR_STATE,ACCESS_FLAGS,ALT_PATH,"
          + "PATH_MIG_STATE||CUR_STATE,QKEY",
      "RTS>SQD||EN_SQD_ASYNC_NOTIFY||EN_SQD_ASYNC_NOTIFY||EN_SQD_ASYNC_NOTIFY",
      "SQD>RTS||CUR_STATE,ALT_PATH,ACCESS_FLAGS,MIN_RNR_TIMER,PATH_MIG_STATE||CUR_STATE,ALT_PATH,ACCESS_FLAGS,"
          + "PATH_MIG_STATE||CUR_STATE,QKEY",
      "SQD>SQD||PORT,AV,TIMEOUT,RETRY_CNT,RNR_RETRY,MAX_QP_RD_ATOMIC,MAX_DEST_RD_ATOMIC,ALT_PATH,ACCESS_FLAGS,"
          + "PKEY_INDEX,MIN_RNR_TIMER,PATH_MIG_STATE||AV,ALT_PATH,ACCESS_FLAGS,PKEY_INDEX,PATH_MIG_STATE||PKEY_INDEX,QKEY",
      "SQE>RTS||||CUR_STATE,ACCESS_FLAGS||CUR_STATE,QKEY",
      "INIT>RESET||||||", "RTR>RESET||||||", "RTS>RESET||||||", "SQD>RESET||||||", "SQE>RESET||||||", "ERR>RESET||||||",
      "INIT>ERR||||||", "RTR>ERR||||||", "RTS>ERR||||||", "SQD>ERR||||||", "SQE>ERR||||||", "ERR>ERR||||||",
  };

  private record Expected(int required, int optional) {}

  private static final Map<String, Expected> EXPECTED = new HashMap<>();

  static {
    for (String line : SPEC) {
      String[] f = line.split("\\|", -1);
      for (QpType t : QpType.values()) {
        int col = 1 + 2 * t.ordinal();
        EXPECTED.put(f[0] + "/" + t, new Expected(bits(f[col]), bits(f[col + 1])));
      }
    }
  }

  private static int bits(String names) {
    int mask = 0;
    for (String n : names.split(",")) {
      if (!n.isBlank()) {
        try {
          mask |= QpAttrMask.class.getField(n.trim()).getInt(null);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(n, e);
        }
      }
    }
    return mask;
  }

  private static QpState check(QpType type, QpState from, QpState to, int mask) {
    return QpStateTable.check(type, from, mask | QpAttrMask.STATE, to, from);
  }

  @TestFactory
  @DisplayName("every from -> to pair of every QP type: legal exactly as in the table, with its required and optional bits")
  Stream<DynamicTest> everyTransition() {
    List<DynamicTest> tests = new ArrayList<>();
    for (QpType type : QpType.values()) {
      for (QpState from : QpState.values()) {
        for (QpState to : QpState.values()) {
          Expected e = EXPECTED.get(from + ">" + to + "/" + type);
          tests.add(DynamicTest.dynamicTest(type + " " + from + " -> " + to, () -> checkPair(type, from, to, e)));
        }
      }
    }
    return tests.stream();
  }

  private static void checkPair(QpType type, QpState from, QpState to, Expected e) {
    if (e == null) {
      assertNull(QpStateTable.rule(from, to, type));
      InvalidArgumentException x = assertThrows(InvalidArgumentException.class, () -> check(type, from, to, 0));
      assertTrue(x.getMessage().contains("not a legal transition"), x.getMessage());
      return;
    }
    assertNotNull(QpStateTable.rule(from, to, type));
    // Exactly the required bits: accepted.
    assertEquals(to, check(type, from, to, e.required()));
    // Required plus all optional: accepted; each optional alone on top of required: accepted.
    assertEquals(to, check(type, from, to, e.required() | e.optional()));
    for (int bit = 1; bit <= QpAttrMask.ALL; bit <<= 1) {
      int b = bit;
      if ((e.optional() & b) != 0) {
        assertEquals(to, check(type, from, to, e.required() | b));
      } else if ((e.required() & b) != 0) {
        // A required bit left out: refused, and the message names it.
        InvalidArgumentException x = assertThrows(InvalidArgumentException.class,
            () -> check(type, from, to, e.required() & ~b));
        assertTrue(x.getMessage().contains("requires") && x.getMessage().contains(QpAttrMask.names(b).get(0)),
            x.getMessage());
      } else if (b != QpAttrMask.STATE) {
        // A bit outside required, optional and STATE: refused, and the message names it.
        InvalidArgumentException x = assertThrows(InvalidArgumentException.class,
            () -> check(type, from, to, e.required() | b));
        assertTrue(x.getMessage().contains("does not allow") && x.getMessage().contains(QpAttrMask.names(b).get(0)),
            x.getMessage());
      }
    }
  }

  @Test
  @DisplayName("a mask without STATE stays in the current state and follows the cur -> cur row")
  void noStateMeansStay() {
    assertEquals(QpState.RTS, QpStateTable.check(QpType.RC, QpState.RTS, QpAttrMask.ACCESS_FLAGS, null, null));
    assertThrows(InvalidArgumentException.class,
        () -> QpStateTable.check(QpType.RC, QpState.RTR, QpAttrMask.ACCESS_FLAGS, null, null));
    assertEquals(QpState.INIT, QpStateTable.check(QpType.UD, QpState.INIT, QpAttrMask.QKEY, null, null));
  }

  @Test
  @DisplayName("unknown mask bits and a wrong CUR_STATE claim are refused")
  void unknownBitsAndWrongCurState() {
    InvalidArgumentException x = assertThrows(InvalidArgumentException.class,
        () -> QpStateTable.check(QpType.RC, QpState.RTS, 1 << 30, null, null));
    assertEquals("mask", x.field());
    x = assertThrows(InvalidArgumentException.class, () -> QpStateTable.check(QpType.RC, QpState.RTS,
        QpAttrMask.STATE | QpAttrMask.CUR_STATE, QpState.RTS, QpState.SQD));
    assertEquals("curQpState", x.field());
    assertEquals(QpState.RTS, QpStateTable.check(QpType.RC, QpState.RTS,
        QpAttrMask.STATE | QpAttrMask.CUR_STATE, QpState.RTS, QpState.RTS));
  }

  @Test
  @DisplayName("examples of illegal transitions from the reference: RESET->ERR, RESET->RTR, INIT->RTS, RTR->INIT, ERR->INIT")
  void referenceExamples() {
    for (QpState[] p : new QpState[][] {{QpState.RESET, QpState.ERR}, {QpState.RESET, QpState.RTR},
        {QpState.INIT, QpState.RTS}, {QpState.RTR, QpState.INIT}, {QpState.RTS, QpState.RTR},
        {QpState.ERR, QpState.INIT}}) {
      for (QpType t : QpType.values()) {
        assertNull(QpStateTable.rule(p[0], p[1], t), t + " " + p[0] + "->" + p[1]);
      }
    }
  }
}
