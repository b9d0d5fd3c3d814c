package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.assertQuiet;
import static dev.midlayer.drivers.loopback.FaultFixture.awaitTrue;
import static dev.midlayer.drivers.loopback.FaultFixture.direction;
import static dev.midlayer.drivers.loopback.FaultFixture.poll;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static dev.midlayer.drivers.loopback.FaultFixture.received;
import static dev.midlayer.drivers.loopback.FaultFixture.trace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultCounts;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * RC through a faulty link: exactly once and in order through drops, duplicates, reordering and delays;
 * RETRY_EXC_ERR when the retry budget runs out; the fault counts; and a replay with the same seed.
 */
class FaultRcTest {
  private static final FaultPlan.Match ANY = FaultPlan.Match.any();

  /** Sends {@code n} messages a to b and checks exactly-once, in-order delivery and one SUCCESS per WR. */
  private static void sendAndCheckExactlyOnce(FaultFixture.Side a, FaultFixture.Side b, int n) {
    postRecvs(b, n);
    // In a few chains, so later posts meet a link that already lost, held or delayed earlier packets.
    for (int from = 0; from < n; from += n / 4) {
      postMessages(a, from, Math.min(n, from + n / 4));
    }
    List<WorkCompletion> recvs = poll(b.cq, n);
    for (int i = 0; i < n; i++) {
      assertEquals(i, recvs.get(i).wrId(), "receives complete in posting order");
      assertEquals(i, received(b, recvs.get(i), 0), "message " + i + " arrives as the " + i + "th");
    }
    List<WorkCompletion> sends = poll(a.cq, n);
    for (int i = 0; i < n; i++) {
      assertEquals(i, sends.get(i).wrId());
      assertEquals(WcStatus.SUCCESS, sends.get(i).status(), () -> trace(sends).toString());
    }
    assertQuiet(b.cq, 50); // no message is executed twice
    assertQuiet(a.cq, 1);
    assertEquals(QpState.RTS, a.qp.state());
    assertEquals(QpState.RTS, b.qp.state());
  }

  @Test
  @DisplayName("RC under drops, duplicates, reordering and delays in both directions: every message exactly once, "
      + "in order, one SUCCESS per signaled WR")
  void exactlyOnceInOrderUnderFaults() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-rc-mixed")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 256, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      FaultPlan plan = FaultPlan.builder(0x5EED)
          .drop(ANY.data(), 0.08)
          .drop(ANY.kinds(PacketKind.ACK, PacketKind.NAK), 0.08)
          .duplicate(ANY, 0.08)
          .reorder(ANY, 0.08)
          .delay(ANY, 0.08, Duration.ofMillis(5))
          .build();
      f.fabric.faults(plan);
      sendAndCheckExactlyOnce(a, b, 200);
      FaultCounts ab = plan.counts(direction(a, b));
      FaultCounts ba = plan.counts(direction(b, a));
      assertTrue(ab.packets() >= 200, "every request went through the plan: " + ab);
      assertTrue(ab.dropped() > 0 && ab.duplicated() > 0 && ab.reordered() > 0 && ab.delayed() > 0, ab::toString);
      assertTrue(ba.packets() > 0, "ACKs went through the plan: " + ba);
    }
  }

  @Test
  @DisplayName("RC with every request dropped: the first WR ends RETRY_EXC_ERR after retry_cnt retries, "
      + "the rest WR_FLUSH_ERR, each WR exactly one completion")
  void retryExhaustion() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-rc-exhausted")) {
      // Timeout code 16 (about 0.27 ms here) and 3 retries: the budget runs out fast.
      int retries = 3;
      FaultFixture.Side[] p = f.pair(QpType.RC, 16, QpConnect.Params.defaults().withRetries(16, retries, 7, 1));
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      Direction ab = direction(a, b);
      FaultPlan plan = FaultPlan.builder(1).dropAll(ANY.direction(ab).data()).build();
      f.fabric.faults(plan);
      postRecvs(b, 5);
      postMessages(a, 0, 5);
      List<WorkCompletion> sends = poll(a.cq, 5);
      assertEquals(List.of("0:RETRY_EXC_ERR", "1:WR_FLUSH_ERR", "2:WR_FLUSH_ERR", "3:WR_FLUSH_ERR",
          "4:WR_FLUSH_ERR"), trace(sends));
      FaultFixture.awaitTrue(() -> "a in ERR", () -> a.qp.state() == QpState.ERR);
      // The first transmission and retry_cnt go-back-N rounds, no more: at most 5 x (1 + 3) requests.
      FaultCounts c = plan.counts(ab);
      assertEquals(c.packets(), c.dropped(), "every request was dropped");
      assertTrue(c.dropped() >= 5 + retries && c.dropped() <= 5L * (1 + retries), c::toString);
      assertEquals(FaultCounts.ZERO, plan.counts(ab.reverse()), "nothing reached b, so b never answered");
      assertQuiet(a.cq, 50);
      assertQuiet(b.cq, 1); // b executed nothing and is still fine
      assertEquals(QpState.RTS, b.qp.state());
    }
  }

  @Test
  @DisplayName("dropFirst(1): each request is dropped exactly once (its first transmission), all arrive on retry")
  void dropFirstCountsExactly() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-rc-drop-first")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 64, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      FaultPlan plan = FaultPlan.builder(1).dropFirst(ANY.data(), 1).build();
      f.fabric.faults(plan);
      sendAndCheckExactlyOnce(a, b, 40);
      FaultCounts c = plan.counts(direction(a, b));
      assertEquals(40, c.dropped(), "attempt 0 of each PSN happens once: " + c);
      assertTrue(c.packets() >= 80, "and each was sent again: " + c);
      assertEquals(0, c.duplicated() + c.delayed() + c.reordered());
      assertEquals(0, plan.counts(direction(b, a)).dropped(), "ACKs are not data");
    }
  }

  @Test
  @DisplayName("clearFaults: once removed, packets pass unchanged and are no longer counted")
  void clearFaults() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-rc-clear")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 32, FaultFixture.RELIABLE);
      FaultPlan plan = FaultPlan.none(1);
      f.fabric.faults(plan);
      assertEquals(plan, f.fabric.faultPlan());
      sendAndCheckExactlyOnce(p[0], p[1], 8);
      long seen = plan.counts(direction(p[0], p[1])).packets();
      assertTrue(seen >= 8, "every request went through the plan: " + seen);
      f.fabric.clearFaults();
      assertEquals(null, f.fabric.faultPlan());
      sendAndCheckExactlyOnce(p[0], p[1], 8); // wr_ids and slots 0..7 again: the first round is done
      assertEquals(seen, plan.counts(direction(p[0], p[1])).packets());
    }
  }

  /** One run of the replay scenario: returns the sender's and the receiver's completion traces. */
  private static List<List<String>> replayRun(long seed) throws Exception {
    try (FaultFixture f = new FaultFixture("fault-rc-replay")) {
      // RELIABLE's long timeout: only the request that is always dropped may exhaust the retries, never a stall.
      FaultFixture.Side[] p = f.pair(QpType.RC, 64, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      // Seeded noise that RC absorbs, and one request (the 21st: PSN 0x100 + 20) that never gets through.
      FaultPlan plan = FaultPlan.builder(seed)
          .dropAll(ANY.direction(direction(a, b)).data().psn(0x100 + 20))
          .drop(ANY.data().attempts(0, 0), 0.2)
          .duplicate(ANY, 0.1)
          .build();
      f.fabric.faults(plan);
      postRecvs(b, 40);
      postMessages(a, 0, 40);
      List<WorkCompletion> sends = poll(a.cq, 40);
      List<WorkCompletion> recvs = poll(b.cq, 20);
      assertQuiet(b.cq, 20);
      return List.of(trace(sends), trace(recvs));
    }
  }

  @Test
  @DisplayName("replay: same seed, same per-QP completion sequence (wr_id, status) on both sides, across two runs")
  void replay() throws Exception {
    List<List<String>> first = replayRun(77);
    List<List<String>> second = replayRun(77);
    assertEquals(first, second);
    List<String> expectedSends = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      expectedSends.add(i + ":" + (i < 20 ? "SUCCESS" : i == 20 ? "RETRY_EXC_ERR" : "WR_FLUSH_ERR"));
    }
    assertEquals(expectedSends, first.get(0));
    assertEquals(20, first.get(1).size());
  }
}
