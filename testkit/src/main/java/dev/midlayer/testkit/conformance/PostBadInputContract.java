package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A table of wrong calls on the data path and around it, each with the typed error it must give: posts
 * ({@link PostException} with its reason and the index of the bad WR; the WRs before it stay posted and
 * none after it is), WR construction, createQp and modify ({@link InvalidArgumentException} naming the
 * field; a failed modify changes nothing, the state included).
 *
 * <p>Seed rules: C1/C2 (a wrong post fails at once with a typed error, never sleeps), C4 (createQp and
 * modify may sleep and fail without changing anything). IB spec: IBA vol. 1 §11.4.1 (post send / receive
 * errors), §10.3 (modify QP attribute checks).
 */
public abstract class PostBadInputContract extends DriverContract {
  /** Small queues so that "full" is cheap; 2 SGEs; 16 bytes of inline data. */
  private static final QpCap CAP = new QpCap(4, 4, 2, 2, 16);
  private static final int QKEY = 0x1234;

  private World w;

  @BeforeEach
  void start() throws Exception {
    w = new World(f);
  }

  /** The objects the wrong calls are made on; QPs are made (in the state named) on first use. */
  static final class World {
    final ConformanceFixture f;
    final ConformanceFixture.Side a;
    final ConformanceFixture.Side b;
    private QueuePair rcReset;
    private QueuePair rcInit;
    private QueuePair rcRtr;
    private QueuePair rcRts;
    private QueuePair ucRts;
    private QueuePair udRts;
    private QueuePair rcStuck;

    World(ConformanceFixture f) throws Exception {
      this.f = f;
      a = f.side(64, 1 << 16, null);
      b = f.side(64, 1 << 16, null);
    }

    private QueuePair newQp(QpType type) throws Exception {
      return await(a.pd.createQp(QpInitAttr.of(type, a.cq, CAP)));
    }

    QueuePair rcReset() throws Exception {
      return rcReset != null ? rcReset : (rcReset = newQp(QpType.RC));
    }

    QueuePair rcInit() throws Exception {
      if (rcInit == null) {
        rcInit = newQp(QpType.RC);
        await(rcInit.modify(initAttr(1), INIT_MASK));
      }
      return rcInit;
    }

    /**
     * The ids of the receives {@code qp} holds, observed through the API: to ERR, a marker receive (id -1)
     * posted in ERR, and every flushed completion before the marker's.
     */
    List<Long> flushRecvs(QueuePair qp) throws Exception {
      await(qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
      List<Long> ids = new java.util.ArrayList<>();
      boolean[] marker = {false};
      // A full queue has room for the marker once its flushed WRs were polled (QUEUE_FULL is immediate).
      ConformanceFixture.awaitTrue(() -> "the marker receive's flush on " + qp + " (seen " + ids + ")", () -> {
        if (!marker[0]) {
          try {
            qp.postRecv(RecvWr.of(-1));
            marker[0] = true;
          } catch (PostException e) {
            if (e.reason() != PostException.Reason.QUEUE_FULL) {
              throw e;
            }
          }
        }
        WorkCompletion wc = a.cq.poll();
        if (wc == null) {
          return false;
        }
        assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), wc::toString);
        if (wc.wrId() == -1) {
          return true;
        }
        ids.add(wc.wrId());
        return false;
      });
      return ids;
    }

    QueuePair rcRtr() throws Exception {
      if (rcRtr == null) {
        rcRtr = newQp(QpType.RC);
        await(rcRtr.modify(initAttr(1), INIT_MASK));
        await(rcRtr.modify(rtrAttr(b.lidPath(), 1).build(), RTR_MASK));
      }
      return rcRtr;
    }

    /** RC in RTS, connected to an RC QP on B that has 4 receives posted. */
    QueuePair rcRts() throws Exception {
      if (rcRts == null) {
        rcRts = newQp(QpType.RC);
        QueuePair peer = await(b.pd.createQp(QpInitAttr.of(QpType.RC, b.cq, CAP)));
        await(QpConnect.connect(rcRts, b.lidPath(), peer.qpNum(), 1, 2, ConformanceFixture.RELIABLE));
        await(QpConnect.connect(peer, a.lidPath(), rcRts.qpNum(), 2, 1, ConformanceFixture.RELIABLE));
        for (int i = 0; i < 4; i++) {
          peer.postRecv(RecvWr.of(900 + i, Sge.of(b.mr, 64L * i, 64)));
        }
      }
      return rcRts;
    }

    QueuePair ucRts() throws Exception {
      if (ucRts == null) {
        ucRts = newQp(QpType.UC);
        QueuePair peer = await(b.pd.createQp(QpInitAttr.of(QpType.UC, b.cq, CAP)));
        await(QpConnect.connect(ucRts, b.lidPath(), peer.qpNum(), 1, 2, ConformanceFixture.RELIABLE));
        await(QpConnect.connect(peer, a.lidPath(), ucRts.qpNum(), 2, 1, ConformanceFixture.RELIABLE));
      }
      return ucRts;
    }

    QueuePair udRts() throws Exception {
      if (udRts == null) {
        udRts = newQp(QpType.UD);
        await(QpConnect.ud(udRts, 1, QKEY, 0));
      }
      return udRts;
    }

    /** RC in RTS towards a QP number that does not exist, with timeout 0: its sends never complete. */
    QueuePair rcStuck() throws Exception {
      if (rcStuck == null) {
        rcStuck = newQp(QpType.RC);
        await(QpConnect.connect(rcStuck, b.lidPath(), 0xABCDE, 1, 1,
            QpConnect.Params.defaults().withRetries(0, 7, 7, 1)));
      }
      return rcStuck;
    }

    AddressHandle ahToB() {
      return a.pd.createAh(b.lidPath());
    }

    Sge sge(int len) {
      return Sge.of(a.mr, 0, len);
    }

    SendWr send(long id) {
      return SendWr.send(id, 0, sge(8));
    }
  }

  static final int INIT_MASK = QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS;
  static final int RTR_MASK = QpAttrMask.STATE | QpAttrMask.AV | QpAttrMask.PATH_MTU | QpAttrMask.DEST_QPN
      | QpAttrMask.RQ_PSN | QpAttrMask.MAX_DEST_RD_ATOMIC | QpAttrMask.MIN_RNR_TIMER;
  static final int RTS_MASK = QpAttrMask.STATE | QpAttrMask.TIMEOUT | QpAttrMask.RETRY_CNT | QpAttrMask.RNR_RETRY
      | QpAttrMask.SQ_PSN | QpAttrMask.MAX_QP_RD_ATOMIC;

  static QpAttr initAttr(int port) {
    return QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(port).accessFlags(AccessFlags.REMOTE_WRITE)
        .build();
  }

  static QpAttr.Builder rtrAttr(AhAttr path, int destQpn) {
    return QpAttr.builder().qpState(QpState.RTR).ahAttr(path).pathMtu(dev.midlayer.ib.Mtu.MTU_1024)
        .destQpNum(destQpn).rqPsn(0).maxDestRdAtomic(1).minRnrTimer(1);
  }

  static QpAttr.Builder rtsAttr() {
    return QpAttr.builder().qpState(QpState.RTS).timeout(14).retryCnt(7).rnrRetry(7).sqPsn(0).maxRdAtomic(1);
  }

  // ---- the table ----

  /** What a wrong call must give. */
  sealed interface Expect permits Refused, Invalid {}

  /** A {@link PostException} with this reason and bad index. */
  record Refused(PostException.Reason reason, int badIndex) implements Expect {}

  /** An {@link InvalidArgumentException} naming {@code field} (thrown, or failing the returned stage). */
  record Invalid(String field) implements Expect {}

  /** The wrong call; may return a stage (whose failure is the result). */
  @FunctionalInterface
  interface Call {
    Object call(World w) throws Exception;
  }

  /** A check after the error: what stayed posted, that the state did not change, ... */
  @FunctionalInterface
  interface After {
    void check(World w) throws Exception;
  }

  record Row(String rule, Expect expect, Call call, After after) {
    @Override
    public String toString() {
      return rule;
    }
  }

  private static Arguments row(String rule, Expect expect, Call call) {
    return Arguments.of(new Row(rule, expect, call, w -> { }));
  }

  private static Arguments row(String rule, Expect expect, Call call, After after) {
    return Arguments.of(new Row(rule, expect, call, after));
  }

  private static Refused invalidAt(int index) {
    return new Refused(PostException.Reason.INVALID, index);
  }

  /** A modify that must fail and leave the QP exactly as it was (state and attributes). */
  private static Call modifyUnchanged(QpSource qp, QpAttr attr, int mask) {
    return w -> {
      QueuePair q = qp.get(w);
      QpAttr before = q.query();
      QpState stateBefore = q.state();
      Throwable t = ConformanceFixture.failureOf(q.modify(attr, mask));
      assertEquals(stateBefore, q.state(), "a failed modify must not change the state");
      assertEquals(before, q.query(), "a failed modify must not change any attribute");
      if (t instanceof Exception ex) {
        throw ex;
      }
      throw new AssertionError("modify failed with " + t, t);
    };
  }

  @FunctionalInterface
  interface QpSource {
    QueuePair get(World w) throws Exception;
  }

  static Stream<Arguments> rows() {
    Sge big = new Sge(0x1000, 8 * 1024 * 1024 + 1, 0x100); // never read: refused before any key is looked up
    return Stream.of(
        // -- state --
        row("post send in RESET", invalidAt(0), w -> { w.rcReset().postSend(w.send(1)); return null; }),
        row("post send in INIT", invalidAt(0), w -> { w.rcInit().postSend(w.send(1)); return null; }),
        row("post send in RTR", invalidAt(0), w -> { w.rcRtr().postSend(w.send(1)); return null; }),
        row("post receive in RESET", invalidAt(0),
            w -> { w.rcReset().postRecv(RecvWr.of(1, w.sge(8))); return null; }),
        // -- opcode not valid for the QP type --
        row("RDMA_READ on UC", invalidAt(0), w -> {
          w.ucRts().postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(1).sge(w.sge(8)).remote(0, 1).build());
          return null;
        }),
        row("RDMA_READ on UD", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(1).sge(w.sge(8)).ud(w.ahToB(), 1, QKEY)
              .build());
          return null;
        }),
        row("SEND_WITH_INV on UD", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.builder(WrOpcode.SEND_WITH_INV).wrId(1).invalidateRkey(5).ud(w.ahToB(), 1, QKEY)
              .build());
          return null;
        }),
        row("RDMA_WRITE on UD", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).sge(w.sge(8)).remote(0, 1)
              .ud(w.ahToB(), 1, QKEY).build());
          return null;
        }),
        row("ATOMIC_FETCH_AND_ADD on UC", invalidAt(0), w -> {
          w.ucRts().postSend(SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(1).sge(w.sge(8)).remote(0, 1)
              .atomic(1, 0).build());
          return null;
        }),
        // -- SGEs and inline --
        row("send with more SGEs than maxSendSge (3 > 2)", invalidAt(0), w -> {
          w.rcRts().postSend(SendWr.send(1, 0, w.sge(1), w.sge(1), w.sge(1)));
          return null;
        }),
        row("receive with more SGEs than maxRecvSge (3 > 2)", invalidAt(0), w -> {
          w.rcInit().postRecv(RecvWr.of(1, w.sge(1), w.sge(1), w.sge(1)));
          return null;
        }),
        row("inline data longer than maxInlineData (17 > 16)", invalidAt(0), w -> {
          w.rcRts().postSend(SendWr.send(1, SendFlags.INLINE, w.sge(17)));
          return null;
        }),
        row("INLINE on RDMA_READ (cannot carry inline data)", invalidAt(0), w -> {
          w.rcRts().postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(1).flags(SendFlags.INLINE).sge(w.sge(8))
              .remote(0, 1).build());
          return null;
        }),
        row("INLINE on LOCAL_INV (cannot carry inline data)", invalidAt(0), w -> {
          w.rcRts().postSend(SendWr.builder(WrOpcode.LOCAL_INV).wrId(1).flags(SendFlags.INLINE).invalidateRkey(5)
              .build());
          return null;
        }),
        // -- UD addressing --
        row("UD send without an AH", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.send(1, 0, w.sge(8)));
          return null;
        }),
        row("UD send with an AH of another PD", invalidAt(0), w -> {
          ProtectionDomain other = await(w.a.dev.allocPd());
          AddressHandle foreign = other.createAh(w.b.lidPath());
          w.udRts().postSend(SendWr.udSend(1, 0, foreign, 1, QKEY, w.sge(8)));
          return null;
        }),
        row("UD send with a destroyed AH", invalidAt(0), w -> {
          AddressHandle ah = w.ahToB();
          ah.destroy();
          w.udRts().postSend(SendWr.udSend(1, 0, ah, 1, QKEY, w.sge(8)));
          return null;
        }),
        row("UD remoteQpn over 24 bits", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.udSend(1, 0, w.ahToB(), 0x1000000, QKEY, w.sge(8)));
          return null;
        }),
        row("UD message larger than the path MTU (4097 > 4096)", invalidAt(0), w -> {
          w.udRts().postSend(SendWr.udSend(1, 0, w.ahToB(), 1, QKEY, w.sge(4097)));
          return null;
        }),
        row("RC message larger than the port's max_msg_sz (8 MiB + 1)", invalidAt(0), w -> {
          w.rcRts().postSend(SendWr.send(1, 0, big));
          return null;
        }),
        // -- null, full queues, lists --
        row("null send WR at index 1 (index 0 stays posted)", invalidAt(1), w -> {
          w.rcRts().postSend(Arrays.asList(w.send(1), null));
          return null;
        }, w -> assertEquals(List.of(1L), wrIds(poll(w.a.cq, 1)))),
        row("null receive WR at index 1 (index 0 stays posted)", invalidAt(1), w -> {
          w.rcInit().postRecv(Arrays.asList(RecvWr.of(1, w.sge(8)), null));
          return null;
        }, w -> assertEquals(List.of(1L), w.flushRecvs(w.rcInit()), "only index 0 was posted")),
        row("send queue full: the 5th of 5 on maxSendWr 4 is QUEUE_FULL at once", new Refused(
            PostException.Reason.QUEUE_FULL, 4), w -> {
          QueuePair q = w.rcStuck();
          // rcStuck never completes a WR, so its queue never gets room again: a post that waited for room would
          // never return. The deadline only turns such a hang into a failure; it measures nothing.
          assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
              () -> q.postSend(List.of(w.send(1), w.send(2), w.send(3), w.send(4), w.send(5))),
              "a full queue is an error, never a wait");
          return null;
        }, w -> {
          PostException again = assertThrows(PostException.class,
              () -> w.rcStuck().postSend(w.send(6)));
          assertEquals(PostException.Reason.QUEUE_FULL, again.reason());
          // Moved to ERR, the QP flushes what it holds: the first four; then a marker posted in ERR, no more.
          await(w.rcStuck().modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
          List<WorkCompletion> flushed = poll(w.a.cq, 4);
          assertEquals(List.of(1L, 2L, 3L, 4L), wrIds(flushed), "the first four stayed posted");
          w.rcStuck().postSend(w.send(7)); // a marker: its flush comes after anything posted before it
          assertEquals(7L, pollOne(w.a.cq).wrId(), "nothing but the first four was posted");
        }),
        row("receive queue full: the 5th of 5 on maxRecvWr 4 is QUEUE_FULL", new Refused(
            PostException.Reason.QUEUE_FULL, 4), w -> {
          RecvWr r = RecvWr.of(1, w.sge(8));
          w.rcInit().postRecv(List.of(r, r, r, r, r));
          return null;
        }, w -> assertEquals(List.of(1L, 1L, 1L, 1L), w.flushRecvs(w.rcInit()), "the first four are posted")),
        row("a list whose 3rd WR is bad: the first two are posted, none after", invalidAt(2), w -> {
          w.rcRts().postSend(List.of(w.send(1), w.send(2), SendWr.send(3, 0, w.sge(1), w.sge(1), w.sge(1)),
              w.send(4)));
          return null;
        }, w -> {
          // A marker posted afterwards completes after anything posted before it: 3 and 4 never were.
          w.rcRts().postSend(w.send(5));
          assertEquals(List.of(1L, 2L, 5L), wrIds(poll(w.a.cq, 3)));
          for (WorkCompletion wc : poll(w.b.cq, 3)) {
            ConformanceFixture.assertOk(wc);
          }
          ConformanceFixture.assertCqEmpty(w.b.cq);
        }),
        row("a receive list whose 3rd WR is bad: the first two are posted, none after", invalidAt(2), w -> {
          w.rcInit().postRecv(List.of(RecvWr.of(1, w.sge(8)), RecvWr.of(2, w.sge(8)),
              RecvWr.of(3, w.sge(1), w.sge(1), w.sge(1)), RecvWr.of(4, w.sge(8))));
          return null;
        }, w -> {
          await(w.rcInit().modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
          List<WorkCompletion> flushed = poll(w.a.cq, 2);
          assertEquals(List.of(1L, 2L), wrIds(flushed));
          w.rcInit().postRecv(RecvWr.of(5, w.sge(8)));
          assertEquals(5, ConformanceFixture.pollOne(w.a.cq).wrId(), "nothing after the bad one was posted");
        }),
        // -- WR construction --
        row("unknown send flag bits (SendWr constructor)", new Invalid("flags"),
            w -> SendWr.send(1, 1 << 7, w.sge(8))),
        // -- createQp --
        row("createQp maxSendWr over the device's maxQpWr", new Invalid("cap.maxSendWr"), w -> w.a.pd.createQp(
            QpInitAttr.of(QpType.RC, w.a.cq, new QpCap(w.a.dev.attributes().maxQpWr() + 1, 4, 1, 1, 0)))),
        row("createQp maxRecvSge over the device's maxSge", new Invalid("cap.maxRecvSge"), w -> w.a.pd.createQp(
            QpInitAttr.of(QpType.RC, w.a.cq, new QpCap(4, 4, 1, w.a.dev.attributes().maxSge() + 1, 0)))),
        row("createQp maxInlineData over the device's limit", new Invalid("cap.maxInlineData"),
            w -> w.a.pd.createQp(QpInitAttr.of(QpType.RC, w.a.cq,
                new QpCap(4, 4, 1, 1, w.a.dev.attributes().maxInlineData() + 1)))),
        row("createQp maxSendWr 0", new Invalid("cap.maxSendWr"),
            w -> w.a.pd.createQp(QpInitAttr.of(QpType.RC, w.a.cq, new QpCap(0, 4, 1, 1, 0)))),
        row("createQp with a CQ of another device", new Invalid("init.sendCq/recvCq"),
            w -> w.a.pd.createQp(new QpInitAttr(QpType.RC, w.a.cq, w.b.cq, CAP, true, null, null))),
        // -- modify: the stage fails, nothing changes --
        row("modify RESET -> RTR (illegal transition)", new Invalid("qpState"),
            modifyUnchanged(World::rcReset, rtrAttr(AhAttr.ofLid(1, 1), 1).build(), RTR_MASK)),
        row("modify RESET -> ERR (illegal transition)", new Invalid("qpState"),
            modifyUnchanged(World::rcReset, QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE)),
        row("modify RESET -> INIT without PORT (required bit missing)", new Invalid("mask"),
            modifyUnchanged(World::rcReset, initAttr(1), INIT_MASK & ~QpAttrMask.PORT)),
        row("modify RESET -> INIT with TIMEOUT (bit not allowed)", new Invalid("mask"),
            modifyUnchanged(World::rcReset, initAttr(1), INIT_MASK | QpAttrMask.TIMEOUT)),
        row("modify RESET -> INIT on port 9", new Invalid("attr.portNum"),
            modifyUnchanged(World::rcReset, initAttr(9), INIT_MASK)),
        row("modify INIT -> RTR with rqPsn over 24 bits", new Invalid("attr.rqPsn"),
            modifyUnchanged(World::rcInit, rtrAttr(AhAttr.ofLid(1, 1), 1).rqPsn(0x1000000).build(), RTR_MASK)),
        row("modify RTR -> RTS with timeout 32", new Invalid("attr.timeout"),
            modifyUnchanged(World::rcRtr, rtsAttr().timeout(32).build(), RTS_MASK)),
        row("modify RTR -> RTS with retryCnt 8", new Invalid("attr.retryCnt"),
            modifyUnchanged(World::rcRtr, rtsAttr().retryCnt(8).build(), RTS_MASK)),
        row("modify RTR -> RTS with rnrRetry 8", new Invalid("attr.rnrRetry"),
            modifyUnchanged(World::rcRtr, rtsAttr().rnrRetry(8).build(), RTS_MASK)),
        row("modify RTR -> RTS with sqPsn over 24 bits", new Invalid("attr.sqPsn"),
            modifyUnchanged(World::rcRtr, rtsAttr().sqPsn(0x1000000).build(), RTS_MASK)),
        row("modify RTS -> INIT (illegal transition)", new Invalid("qpState"),
            modifyUnchanged(World::rcRts, initAttr(1), INIT_MASK)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  @DisplayName("each wrong post, WR, createQp or modify call gives its typed error (reason and bad index, or the field)")
  void wrongCallGivesItsTypedError(Row row) throws Exception {
    Throwable error = null;
    try {
      Object result = row.call().call(w);
      if (result instanceof CompletionStage<?> stage) {
        error = ConformanceFixture.failureOf(stage);
      }
    } catch (Throwable t) {
      error = t;
    }
    if (error == null) {
      fail(row.rule() + ": expected " + row.expect() + " but the call succeeded");
    }
    if (error instanceof AssertionError ae) {
      throw ae;
    }
    Throwable e = error;
    if (row.expect() instanceof Refused r) {
      PostException pe = assertInstanceOf(PostException.class, e, () -> row.rule() + ": " + e);
      assertEquals(r.reason(), pe.reason(), () -> row.rule() + ": " + pe.getMessage());
      assertEquals(r.badIndex(), pe.badIndex(), () -> row.rule() + ": " + pe.getMessage());
    } else if (row.expect() instanceof Invalid i) {
      InvalidArgumentException ie = assertInstanceOf(InvalidArgumentException.class, e,
          () -> row.rule() + ": " + e);
      assertEquals(i.field(), ie.field(), () -> row.rule() + ": " + ie.getMessage());
    }
    row.after().check(w);
    // Nothing stray was completed on A's CQ by the refused call.
    CompletionQueue cq = w.a.cq;
    ConformanceFixture.assertCqEmpty(cq);
  }

  @Test
  @DisplayName("posting a send or a receive on a destroyed QP is refused with INVALID")
  void postOnDestroyedQpIsRefused() throws Exception {
    QueuePair rts = w.rcRts();
    QueuePair init = w.rcInit();
    await(rts.destroy());
    await(init.destroy());
    PostException s = assertThrows(PostException.class, () -> rts.postSend(w.send(1)));
    assertEquals(PostException.Reason.INVALID, s.reason());
    assertEquals(0, s.badIndex());
    PostException r = assertThrows(PostException.class, () -> init.postRecv(RecvWr.of(1, w.sge(8))));
    assertEquals(PostException.Reason.INVALID, r.reason());
    assertEquals(0, r.badIndex());
  }
}
