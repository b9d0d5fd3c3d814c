package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.assertQuiet;
import static dev.midlayer.drivers.loopback.FaultFixture.direction;
import static dev.midlayer.drivers.loopback.FaultFixture.poll;
import static dev.midlayer.drivers.loopback.FaultFixture.pollUntil;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static dev.midlayer.drivers.loopback.FaultFixture.received;
import static dev.midlayer.drivers.loopback.FaultFixture.trace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultCounts;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * UC and UD through a faulty link: dropped messages are lost silently (the sender's completions still
 * succeed, the receiver gets fewer, in order), exactly the ones the plan's pure function names, and a run with
 * the same seed replays the same losses.
 */
class FaultUnreliableTest {
  private static final int N = 60;
  /** sq_psn of the sender (FaultFixture's pairs): message i has PSN 0x100 + i. */
  private static final int FIRST_PSN = 0x100;

  /** Drops 30% of the requests, except the last message: once that arrives, everything before it did. */
  private static FaultPlan plan(long seed) {
    return FaultPlan.builder(seed)
        .pass(FaultPlan.Match.any().psn(FIRST_PSN + N - 1))
        .drop(FaultPlan.Match.any().data(), 0.3)
        .build();
  }

  /** The messages the plan lets through, from its decision function alone. */
  private static List<Integer> survivors(FaultPlan plan, Direction dir, int srcQpn, int dstQpn) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      if (plan.decide(dir, srcQpn, dstQpn, FIRST_PSN + i, PacketKind.DATA, 0).passes()) {
        out.add(i);
      }
    }
    return out;
  }

  /** One run: sends N messages a to b; returns the receiver's sequence of message numbers. */
  private static List<Integer> run(QpType type, long seed) throws Exception {
    try (FaultFixture f = new FaultFixture("fault-" + type.name().toLowerCase())) {
      FaultFixture.Side[] p = type == QpType.UD ? f.udPair(N) : f.pair(type, N, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      FaultPlan plan = plan(seed);
      f.fabric.faults(plan);
      postRecvs(b, N);
      if (type == QpType.UD) {
        AddressHandle ah = a.pd.createAh(b.lidPath());
        List<SendWr> wrs = new ArrayList<>();
        for (int i = 0; i < N; i++) {
          wrs.add(FaultFixture.udMessage(a, ah, b, i));
        }
        a.qp.postSend(wrs);
      } else {
        postMessages(a, 0, N);
      }
      List<WorkCompletion> sends = poll(a.cq, N);
      for (int i = 0; i < N; i++) {
        assertEquals(i, sends.get(i).wrId());
        assertEquals(WcStatus.SUCCESS, sends.get(i).status(), "a lost UC/UD message still completes: " + sends.get(i));
      }
      int grh = type == QpType.UD ? 40 : 0;
      List<WorkCompletion> recvs = pollUntil(b.cq, wc -> FaultFixture.seqOf(b, wc, grh) == N - 1);
      List<Integer> got = new ArrayList<>();
      for (WorkCompletion wc : recvs) {
        got.add(received(b, wc, grh));
      }
      Direction ab = direction(a, b);
      List<Integer> expected = survivors(plan, ab, a.qp.qpNum(), b.qp.qpNum());
      assertEquals(expected, got, "exactly the messages the decision function passes arrive, in order");
      assertTrue(got.size() < N, "some were lost: " + got.size() + " of " + N);
      FaultCounts c = plan.counts(ab);
      assertEquals(N, c.packets(), "one packet per message, never a retransmission");
      assertEquals(N - got.size(), c.dropped());
      assertEquals(FaultCounts.ZERO, plan.counts(ab.reverse()), "no ACKs on UC/UD");
      assertQuiet(b.cq, 20);
      assertEquals(QpState.RTS, a.qp.state(), "no error on either side");
      assertEquals(QpState.RTS, b.qp.state());
      return got;
    }
  }

  @Test
  @DisplayName("UC loses dropped messages silently: sender SUCCESS for all, receiver gets the survivors in order")
  void ucLosesSilently() throws Exception {
    run(QpType.UC, 11);
  }

  @Test
  @DisplayName("UD loses dropped datagrams silently: sender SUCCESS for all, receiver gets the survivors in order")
  void udLosesSilently() throws Exception {
    run(QpType.UD, 11);
  }

  @Test
  @DisplayName("replay: the same seed loses the same UC messages in a second run; another seed loses others")
  void ucReplay() throws Exception {
    List<Integer> first = run(QpType.UC, 2024);
    assertEquals(first, run(QpType.UC, 2024));
    assertNotEquals(first, run(QpType.UC, 2025));
  }

  @Test
  @DisplayName("UC duplicates are delivered twice (no duplicate detection on a first/only packet, as in rxe)")
  void ucDuplicateArrivesTwice() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-uc-dup")) {
      FaultFixture.Side[] p = f.pair(QpType.UC, 8, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      f.fabric.faults(FaultPlan.builder(1).duplicate(FaultPlan.Match.any().psn(FIRST_PSN + 1), 1.0).build());
      postRecvs(b, 4);
      postMessages(a, 0, 3);
      List<WorkCompletion> recvs = poll(b.cq, 4);
      List<Integer> got = new ArrayList<>();
      for (WorkCompletion wc : recvs) {
        got.add(received(b, wc, 0));
      }
      assertEquals(List.of(0, 1, 1, 2), got, trace(recvs)::toString);
      assertEquals(3, poll(a.cq, 3).size());
    }
  }
}
