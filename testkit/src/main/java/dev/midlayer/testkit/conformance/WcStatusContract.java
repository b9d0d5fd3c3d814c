package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every work-completion status a software driver can produce, one thin scenario each on an RC pair, checking the
 * status, the WR it belongs to and the requester's state after. The longer scenarios around these statuses (the
 * other side's completion, the flushes after, the refusals' variants) are in {@link ErrorContract},
 * {@link MemoryProtectionContract}, {@link FastRegContract}, {@link InvalidateContract} and {@link FaultContract};
 * this contract is the table that names each status once. {@link #statusesNotReachable} names the ones a driver of
 * this midlayer cannot produce, and why, so a new {@link WcStatus} fails here until it is placed.
 *
 * <p>Seed rules: C2 (every error is a completion, never an exception from post). IB spec: IBA vol. 1 §11.6.2
 * (completion status codes), §9.7.5 (ACK timeout, RNR), §9.9 (responder errors and their NAK classes),
 * §10.3.1 (flush).
 *
 * <p>Test methods run on JUnit's thread; nothing here runs in a callback.
 */
public abstract class WcStatusContract extends DriverContract {
  private static final QpCap CAP = new QpCap(8, 8, 1, 1, 0);

  /** The statuses this contract produces. */
  enum Reachable {
    SUCCESS, LOC_LEN_ERR, LOC_QP_OP_ERR, LOC_PROT_ERR, WR_FLUSH_ERR, REM_INV_REQ_ERR, REM_ACCESS_ERR, REM_OP_ERR,
    RETRY_EXC_ERR, RNR_RETRY_EXC_ERR
  }

  /** The statuses no driver of this midlayer produces, and why. */
  private static final Map<WcStatus, String> NOT_REACHABLE = Map.ofEntries(
      Map.entry(WcStatus.LOC_EEC_OP_ERR, "RD only: the midlayer has no RD QPs"),
      Map.entry(WcStatus.LOC_RDD_VIOL_ERR, "RD only"),
      Map.entry(WcStatus.REM_INV_RD_REQ_ERR, "RD only"),
      Map.entry(WcStatus.INV_EECN_ERR, "RD only"),
      Map.entry(WcStatus.INV_EEC_STATE_ERR, "RD only"),
      Map.entry(WcStatus.MW_BIND_ERR, "no memory windows in the API (no bind verb, no BIND_MW opcode)"),
      Map.entry(WcStatus.BAD_RESP_ERR, "needs a peer that sends a malformed response: no software peer does"),
      Map.entry(WcStatus.LOC_ACCESS_ERR, "a responder placing data reports REM_ACCESS_ERR to the requester; "
          + "its own receive sees LOC_PROT_ERR or LOC_LEN_ERR"),
      Map.entry(WcStatus.REM_ABORT_ERR, "needs a responder that aborts a message midway: no software peer does"),
      Map.entry(WcStatus.FATAL_ERR, "a fatal device error flushes with WR_FLUSH_ERR (FaultContract)"),
      Map.entry(WcStatus.RESP_TIMEOUT_ERR, "no response timer besides the ACK timeout (RETRY_EXC_ERR)"),
      Map.entry(WcStatus.GENERAL_ERR, "a driver maps every error to a specific status"));

  private ConformanceFixture.Side a;
  private ConformanceFixture.Side b;

  /** a and b: RC QPs on two devices, connected with {@code p}, a's MR also remote-writable. */
  private void pair(QpConnect.Params p) throws Exception {
    a = f.side(64, 4096, null);
    b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
    ConformanceFixture.connect(a, b, p, p);
  }

  private static SendWr send(long id, Sge sge) {
    return SendWr.send(id, SendFlags.SIGNALED, sge);
  }

  /** Runs the scenario of {@code status}; returns the completion of WR 1 that carries it. */
  private WorkCompletion scenario(Reachable status) throws Exception {
    QpConnect.Params reliable = ConformanceFixture.RELIABLE;
    switch (status) {
      case SUCCESS -> {
        pair(reliable);
        b.qp.postRecv(RecvWr.of(9, Sge.of(b.mr, 0, 64)));
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 16)));
        ConformanceFixture.assertOk(pollOne(b.cq));
        return pollOne(a.cq);
      }
      case LOC_LEN_ERR, REM_INV_REQ_ERR -> {
        // A message longer than the receive: the responder's receive LOC_LEN_ERR, the requester REM_INV_REQ_ERR.
        pair(reliable);
        b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 8)));
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 16)));
        WorkCompletion recv = pollOne(b.cq);
        WorkCompletion sent = pollOne(a.cq);
        awaitState(b.qp, QpState.ERR);
        return status == Reachable.LOC_LEN_ERR ? recv : sent;
      }
      case LOC_QP_OP_ERR -> {
        // REG_MR of a fast-registration region without a page list: refused when it executes.
        pair(reliable);
        MemoryRegion unmapped = await(a.pd.allocMr(4));
        a.qp.postSend(SendWr.regMr(1, SendFlags.SIGNALED, unmapped, unmapped.rkey(), AccessFlags.LOCAL_WRITE));
        return pollOne(a.cq);
      }
      case LOC_PROT_ERR -> {
        pair(reliable);
        b.qp.postRecv(RecvWr.of(9, Sge.of(b.mr, 0, 64)));
        a.qp.postSend(send(1, new Sge(a.mr.iova(), 8, a.mr.lkey() + 0x100)));
        return pollOne(a.cq);
      }
      case WR_FLUSH_ERR -> {
        pair(reliable);
        await(a.qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 8)));
        return pollOne(a.cq);
      }
      case REM_ACCESS_ERR -> {
        // RDMA WRITE with an rkey the responder does not have.
        pair(reliable);
        a.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(1).flags(SendFlags.SIGNALED)
            .sge(Sge.of(a.mr, 0, 8)).remote(b.mr.iova(), b.mr.rkey() + 0x100).build());
        WorkCompletion wc = pollOne(a.cq);
        awaitState(b.qp, QpState.ERR);
        return wc;
      }
      case REM_OP_ERR -> {
        // The responder's receive has a bad lkey: its receive LOC_PROT_ERR, the requester REM_OP_ERR.
        pair(reliable);
        b.qp.postRecv(RecvWr.of(9, new Sge(b.mr.iova(), 64, b.mr.lkey() + 0x100)));
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 8)));
        assertEquals(WcStatus.LOC_PROT_ERR, pollOne(b.cq).status());
        return pollOne(a.cq);
      }
      case RETRY_EXC_ERR -> {
        // A dead peer: destroyed, so no ACK ever comes (timeout code 5, 7 retries).
        pair(QpConnect.Params.defaults().withRetries(5, 7, 7, 1));
        await(b.qp.destroy());
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 8)));
        return pollOne(a.cq);
      }
      case RNR_RETRY_EXC_ERR -> {
        pair(QpConnect.Params.defaults().withRetries(24, 7, 1, 1));
        a.qp.postSend(send(1, Sge.of(a.mr, 0, 8))); // no receive at b
        return pollOne(a.cq);
      }
      default -> throw new AssertionError(status);
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Reachable.class)
  @DisplayName("each status a software driver produces, in its scenario: the status on the WR it belongs to; an "
      + "error leaves the requester in ERR")
  void eachStatusInItsScenario(Reachable status) throws Exception {
    WorkCompletion wc = scenario(status);
    WcStatus expected = WcStatus.valueOf(status.name());
    assertEquals(expected, wc.status(), () -> status + ": " + wc);
    assertEquals(1, wc.wrId(), () -> status + ": " + wc);
    if (status == Reachable.SUCCESS) {
      assertEquals(QpState.RTS, a.qp.state());
    } else {
      awaitState(a.qp, QpState.ERR); // LOC_LEN_ERR: the responder's, whose requester got REM_INV_REQ_ERR
    }
  }

  @Test
  @DisplayName("every WcStatus is either produced above or named as unreachable here, with the reason")
  void statusesNotReachable() {
    Set<WcStatus> placed = EnumSet.noneOf(WcStatus.class);
    for (Reachable r : Reachable.values()) {
      placed.add(WcStatus.valueOf(r.name()));
    }
    placed.addAll(NOT_REACHABLE.keySet());
    assertEquals(EnumSet.allOf(WcStatus.class), placed, "a WcStatus neither tested nor explained");
    assertEquals(WcStatus.values().length, Reachable.values().length + NOT_REACHABLE.size(),
        "a status both tested and called unreachable");
  }
}
