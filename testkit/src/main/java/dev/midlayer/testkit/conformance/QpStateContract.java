package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.failureOf;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpStateTable;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The QP state machine as a driver sees it, through a real device: every legal transition of RC, UC and UD with
 * exactly its required attributes succeeds, {@code query().qpState()} follows, and the driver acts on it (an RTR
 * QP receives, an RTS QP sends, SQD raises SQ_DRAINED, SQD → RTS resumes, ERR flushes, RESET drops, and a QP
 * taken RESET → INIT → RTR → RTS again works); illegal transitions, missing required and extra attributes and a
 * wrong CUR_STATE claim are refused with an {@link InvalidArgumentException} naming the transition or the bits,
 * and change nothing (state, attributes, and the QP still works). Any state → ERR and → RESET.
 *
 * <p>The table itself ({@link QpStateTable}) is checked exhaustively, without a device, by core's unit test; this
 * contract takes the required masks from it and checks what reaches the driver.
 *
 * <p>Seed rules: C4 (modify may sleep; the refusals are typed failures of its stage), C2 (the flushes of ERR are
 * completions). IB spec: IBA vol. 1 §10.3 (QP states, Table 91 and 92: the transitions and their required and
 * optional attributes; Linux {@code ib_modify_qp_is_ok}), §10.3.1 (ERR flushes, RESET drops), §11.6.3
 * (SQ_DRAINED).
 *
 * <p>Test methods run on JUnit's thread; nothing here runs in a callback.
 */
public abstract class QpStateContract extends DriverContract {
  private static final int QKEY = 0x0051_7A7E;
  private static final QpCap CAP = new QpCap(8, 8, 1, 1, 0);
  private ConformanceFixture.Side a;
  private ConformanceFixture.Side b;
  private long nextWrId = 1;

  /** a (the QP under test, in RESET) and b (its peer, in RTS, sending to a), on two devices. */
  private void sides(QpType type) throws Exception {
    a = f.side(64, 4096, null);
    b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, type, CAP, true);
    ConformanceFixture.createQp(b, type, CAP, true);
    if (type == QpType.UD) {
      await(QpConnect.ud(b.qp, 1, QKEY, 0x200));
    } else {
      await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, ConformanceFixture.RELIABLE));
    }
  }

  /** Every attribute with a valid value, for a move of a from {@code from} to {@code to}. */
  private QpAttr attr(QpState from, QpState to) {
    return QpAttr.builder().qpState(to).curQpState(from).enSqdAsyncNotify(true)
        .accessFlags(AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ).pkeyIndex(0).portNum(1).qkey(QKEY)
        .ahAttr(b.lidPath()).pathMtu(Mtu.MTU_1024).timeout(24).retryCnt(7).rnrRetry(7).rqPsn(0x200).maxRdAtomic(1)
        .minRnrTimer(1).sqPsn(0x100).maxDestRdAtomic(1).destQpNum(b.qp.qpNum()).build();
  }

  private static int required(QpType type, QpState from, QpState to) {
    return QpStateTable.rule(from, to, type).required();
  }

  /** Moves a from its state to {@code to} with exactly the required attributes; checks query() follows. */
  private void step(QpState to) throws Exception {
    QpState from = a.qp.state();
    await(a.qp.modify(attr(from, to), QpAttrMask.STATE | required(a.qp.type(), from, to)));
    assertEquals(to, a.qp.query().qpState(), () -> from + " -> " + to + ": query()");
    assertEquals(to, a.qp.state());
  }

  /** Brings a from RESET to {@code target} through legal transitions (SQE: a UC/UD send error at RTS). */
  private void bringTo(QpState target) throws Exception {
    if (target == QpState.RESET) {
      return;
    }
    step(QpState.INIT);
    if (target == QpState.INIT) {
      return;
    }
    step(QpState.RTR);
    if (target == QpState.RTR) {
      return;
    }
    step(QpState.RTS);
    switch (target) {
      case SQD -> toSqd();
      case SQE -> {
        a.qp.postSend(send(new Sge(a.mr.iova(), 8, a.mr.lkey() + 0x100)));
        assertEquals(WcStatus.LOC_PROT_ERR, pollOne(a.cq).status(), "the send error that moves a to SQE");
        awaitState(a.qp, QpState.SQE);
      }
      case ERR -> step(QpState.ERR);
      default -> { }
    }
    assertEquals(target, a.qp.query().qpState());
  }

  private void toSqd() throws Exception {
    long drained = a.events.stream().filter(e -> e.type() == AsyncEventType.SQ_DRAINED).count();
    await(a.qp.modify(attr(QpState.RTS, QpState.SQD), QpAttrMask.STATE | QpAttrMask.EN_SQD_ASYNC_NOTIFY));
    assertEquals(QpState.SQD, a.qp.query().qpState());
    awaitTrue(() -> "SQ_DRAINED of " + a.qp + " (events: " + a.events + ")",
        () -> a.events.stream().filter(e -> e.type() == AsyncEventType.SQ_DRAINED).count() > drained);
  }

  /** A signaled send from a to b (UD: through an address handle), of the given SGE. */
  private SendWr send(Sge sge) {
    return send(a, b, sge);
  }

  private SendWr send(ConformanceFixture.Side from, ConformanceFixture.Side to, Sge sge) {
    long id = nextWrId++;
    if (from.qp.type() == QpType.UD) {
      AddressHandle ah = from.pd.createAh(to.lidPath());
      return SendWr.udSend(id, SendFlags.SIGNALED, ah, to.qp.qpNum(), QKEY, sge);
    }
    return SendWr.send(id, SendFlags.SIGNALED, sge);
  }

  /** One message {@code from} → {@code to}: the send and its receive succeed. */
  private void message(ConformanceFixture.Side from, ConformanceFixture.Side to) {
    long recvId = nextWrId++;
    to.qp.postRecv(RecvWr.of(recvId, Sge.of(to.mr, 1024, 128)));
    from.qp.postSend(send(from, to, Sge.of(from.mr, 0, 16)));
    WorkCompletion s = pollOne(from.cq);
    assertOk(s);
    WorkCompletion r = pollOne(to.cq);
    assertOk(r);
    assertEquals(recvId, r.wrId(), () -> "the receive of the message: " + r);
  }

  /** For RC/UC, b reconnected after a was reset (PSNs from the start again); UD needs nothing. */
  private void resetPeer() throws Exception {
    if (b.qp.type() != QpType.UD) {
      await(b.qp.modify(QpAttr.builder().qpState(QpState.RESET).build(), QpAttrMask.STATE));
      await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, ConformanceFixture.RELIABLE));
    }
  }

  // ---- legal transitions ----

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = QpType.class, names = {"RC", "UC", "UD"})
  @DisplayName("every legal transition on the way RESET → INIT → INIT → RTR → RTS → RTS → SQD → SQD → RTS → ERR → "
      + "RESET → ... → RTS, with exactly the required attributes: query() follows and the driver acts on each")
  void legalWalk(QpType type) throws Exception {
    sides(type);
    assertEquals(QpState.RESET, a.qp.query().qpState());
    assertThrows(PostException.class, () -> a.qp.postRecv(RecvWr.of(1, Sge.of(a.mr, 0, 64))), "no receive in RESET");
    step(QpState.INIT);
    step(QpState.INIT);
    assertThrows(PostException.class, () -> a.qp.postSend(send(Sge.of(a.mr, 0, 8))), "no send before RTS");
    step(QpState.RTR);
    message(b, a); // RTR receives: the driver took the path and rq_psn
    step(QpState.RTS);
    message(a, b); // RTS sends: the driver took sq_psn
    step(QpState.RTS);
    message(a, b);
    toSqd(); // the driver saw SQD: it raised SQ_DRAINED
    step(QpState.SQD);
    a.qp.postSend(send(Sge.of(a.mr, 0, 8))); // queued in SQD
    long recvId = nextWrId++;
    b.qp.postRecv(RecvWr.of(recvId, Sge.of(b.mr, 1024, 128)));
    step(QpState.RTS); // SQD -> RTS: the queued send goes
    assertOk(pollOne(a.cq));
    assertEquals(recvId, pollOne(b.cq).wrId());
    a.qp.postRecv(RecvWr.of(500, Sge.of(a.mr, 0, 64)));
    step(QpState.ERR);
    WorkCompletion flushed = pollOne(a.cq);
    assertEquals(500, flushed.wrId());
    assertEquals(WcStatus.WR_FLUSH_ERR, flushed.status(), "ERR flushed the receive: " + flushed);
    step(QpState.RESET);
    resetPeer();
    step(QpState.INIT);
    step(QpState.RTR);
    step(QpState.RTS);
    message(a, b);
    message(b, a);
    assertCqEmpty(a.cq);
  }

  /** The states a QP of {@code type} can be brought to from RESET, RESET included. */
  private static List<QpState> reachable(QpType type) {
    List<QpState> out = new ArrayList<>(List.of(QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.SQD,
        QpState.ERR));
    if (type != QpType.RC) {
      out.add(QpState.SQE);
    }
    return out;
  }

  static Stream<Arguments> typeAndState() {
    List<Arguments> out = new ArrayList<>();
    for (QpType t : List.of(QpType.RC, QpType.UC, QpType.UD)) {
      for (QpState s : reachable(t)) {
        out.add(Arguments.of(t, s));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1} -> ERR")
  @MethodSource("typeAndState")
  @DisplayName("any state but RESET → ERR: query() says ERR and an outstanding receive is flushed; RESET → ERR is "
      + "refused")
  void anyStateToErr(QpType type, QpState from) throws Exception {
    sides(type);
    bringTo(from);
    if (from == QpState.RESET) {
      refused(QpState.ERR, QpAttrMask.STATE, "qpState", "not a legal transition");
      return;
    }
    a.qp.postRecv(RecvWr.of(600, Sge.of(a.mr, 0, 64)));
    step(QpState.ERR);
    WorkCompletion wc = pollOne(a.cq);
    assertEquals(600, wc.wrId());
    assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), () -> from + " -> ERR: " + wc);
  }

  @ParameterizedTest(name = "{0} {1} -> RESET")
  @MethodSource("typeAndState")
  @DisplayName("any state → RESET: query() says RESET, an outstanding receive is dropped without a completion, and "
      + "the QP works after RESET → INIT → RTR → RTS")
  void anyStateToReset(QpType type, QpState from) throws Exception {
    sides(type);
    bringTo(from);
    if (from == QpState.ERR) {
      a.qp.postRecv(RecvWr.of(700, Sge.of(a.mr, 0, 64)));
      assertEquals(WcStatus.WR_FLUSH_ERR, pollOne(a.cq).status(), "a receive posted in ERR is flushed");
    } else if (from != QpState.RESET) {
      a.qp.postRecv(RecvWr.of(700, Sge.of(a.mr, 0, 64)));
    }
    step(QpState.RESET);
    resetPeer();
    step(QpState.INIT);
    step(QpState.RTR);
    step(QpState.RTS);
    // The first completion on a's CQ is the new receive: the old one was dropped, not flushed.
    message(b, a);
    message(a, b);
    assertCqEmpty(a.cq);
  }

  // ---- refusals ----

  /**
   * A modify of a to {@code to} with {@code mask} fails with an InvalidArgumentException whose field is
   * {@code field} and whose message contains {@code names}; a's state and attributes are unchanged.
   */
  private void refused(QpState to, int mask, String field, String... names) throws Exception {
    refused(attr(a.qp.state(), to), mask, field, names);
  }

  private void refused(QpAttr attr, int mask, String field, String... names) throws Exception {
    QpState before = a.qp.state();
    QpState to = (mask & QpAttrMask.STATE) != 0 ? attr.qpState() : before;
    QpAttr attrsBefore = a.qp.query();
    Throwable t = failureOf(a.qp.modify(attr, mask));
    InvalidArgumentException x = assertInstanceOf(InvalidArgumentException.class, t,
        () -> before + " -> " + to + " with " + QpAttrMask.names(mask) + " failed with " + t);
    String what = before + " -> " + to + " with " + QpAttrMask.names(mask) + ": " + x.getMessage();
    assertEquals(field, x.field(), what);
    for (String n : names) {
      assertTrue(x.getMessage().contains(n), () -> what + " does not name " + n);
    }
    assertEquals(before, a.qp.state(), () -> what + ": the state changed");
    assertEquals(attrsBefore, a.qp.query(), () -> what + ": the attributes changed");
  }

  @ParameterizedTest(name = "{0} from {1}")
  @MethodSource("typeAndState")
  @DisplayName("every illegal transition from a reachable state is refused naming it, and changes nothing")
  void illegalTransitionsRefused(QpType type, QpState from) throws Exception {
    sides(type);
    bringTo(from);
    List<Executable> checks = new ArrayList<>();
    for (QpState to : QpState.values()) {
      if (QpStateTable.rule(from, to, type) == null) {
        checks.add(() -> refused(to, QpAttrMask.STATE, "qpState", from.name(), to.name(), "not a legal transition"));
      }
    }
    assertAll(checks);
    if (from == QpState.RTS) {
      message(a, b); // nothing reached the driver: the QP still works
    }
  }

  /** The transitions with required attributes, per type. */
  static Stream<Arguments> transitionsWithRequiredAttributes() {
    List<Arguments> out = new ArrayList<>();
    for (QpType t : List.of(QpType.RC, QpType.UC, QpType.UD)) {
      for (QpState[] p : new QpState[][] {{QpState.RESET, QpState.INIT}, {QpState.INIT, QpState.RTR},
          {QpState.RTR, QpState.RTS}}) {
        if (QpStateTable.rule(p[0], p[1], t).required() != 0) {
          out.add(Arguments.of(t, p[0], p[1]));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @MethodSource("transitionsWithRequiredAttributes")
  @DisplayName("a required attribute left out, or one the transition does not allow, is refused naming the bit and "
      + "changes nothing; then exactly the required ones succeed")
  void missingAndExtraAttributesRefused(QpType type, QpState from, QpState to) throws Exception {
    sides(type);
    bringTo(from);
    QpStateTable.Rule rule = QpStateTable.rule(from, to, type);
    List<Executable> checks = new ArrayList<>();
    for (int bit = 1; bit <= QpAttrMask.ALL; bit <<= 1) {
      int b = bit;
      String name = QpAttrMask.names(b).get(0);
      if ((rule.required() & b) != 0) {
        checks.add(() -> refused(to, QpAttrMask.STATE | (rule.required() & ~b), "mask", "requires", name));
      } else if ((rule.optional() & b) == 0 && b != QpAttrMask.STATE) {
        checks.add(() -> refused(to, QpAttrMask.STATE | rule.required() | b, "mask", "does not allow", name));
      }
    }
    assertAll(checks);
    step(to);
  }

  @Test
  @DisplayName("RTS → RTS claiming CUR_STATE SQD is refused naming curQpState; claiming RTS succeeds")
  void wrongCurrentStateClaimRefused() throws Exception {
    sides(QpType.RC);
    bringTo(QpState.RTS);
    refused(attr(QpState.SQD, QpState.RTS), QpAttrMask.STATE | QpAttrMask.CUR_STATE, "curQpState", "SQD", "RTS");
    await(a.qp.modify(attr(QpState.RTS, QpState.RTS), QpAttrMask.STATE | QpAttrMask.CUR_STATE));
    message(a, b);
  }
}
