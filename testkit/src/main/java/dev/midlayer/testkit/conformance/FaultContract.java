package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertCqEmpty;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.direction;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultCounts;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Predicate;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Exactly once under faults: seeded packet faults ({@link FaultPlan}, applied by the driver at its links through
 * {@link DriverUnderTest#faults}), retry exhaustion, unreliable losses and their replay, a fatal device error and
 * a link flap. Every message carries its sequence number in the immediate and four times in its payload, so a
 * torn, duplicated, lost or reordered message is named.
 *
 * <p>Packet-fault tests are skipped unless {@link DriverUnderTest#supportsFaultInjection()}, the DEVICE_FATAL test
 * unless {@link DriverUnderTest#supportsFatalError()}, the flap unless {@link DriverUnderTest#supportsLinkControl()}.
 * Negative checks ("nothing more arrives") are fences, never quiet periods: a message posted after the checked
 * ones, or the timeout fence of {@link ConformanceFixture#timeoutFence}.
 *
 * <p>Seed rules: the exactly-once rule (each posted WR ends in exactly one completion; the contract monitor's
 * ledger checks it on top), C2 (errors are completions), C3 (DEVICE_FATAL and port events reach the handlers).
 * IB spec: IBA vol. 1 §9.7 (RC reliability: PSNs, duplicate detection, go-back-N, ACK timeout and
 * {@code retry_cnt} → RETRY_EXC_ERR), §9.8 (UC and UD: no retry, silent loss), §10.3.1 (QP to ERR, flush),
 * §11.6.3 (unaffiliated asynchronous events: LOCAL_CATAS_ERROR, PORT_ERR, PORT_ACTIVE).
 *
 * <p>Test methods run on JUnit's thread; nothing here runs in a callback.
 */
public abstract class FaultContract extends DriverContract {
  private static final FaultPlan.Match ANY = FaultPlan.Match.any();
  /** Bytes of one message: the sequence number, big-endian, four times. */
  private static final int MSG = 16;
  /** Room of one receive (a UD receive also holds the 40-byte GRH area). */
  private static final int SLOT = 64;
  private static final int QKEY = 0x1111_2222;
  /** sq_psn of a to b ({@link ConformanceFixture#connect} and {@link #udPair}): message i has PSN 0x100 + i. */
  private static final int FIRST_PSN = 0x100;

  // ---- sides and messages ----

  /** Two connected RC or UC QPs on two devices with queues of {@code depth} and room for {@code depth} slots. */
  private ConformanceFixture.Side[] pair(QpType type, int depth, QpConnect.Params params) throws Exception {
    ConformanceFixture.Side a = f.side(4 * depth, depth * SLOT, null);
    ConformanceFixture.Side b = f.side(4 * depth, depth * SLOT, null);
    ConformanceFixture.createQp(a, type, new QpCap(depth, depth, 1, 1, 0), true);
    ConformanceFixture.createQp(b, type, new QpCap(depth, depth, 1, 1, 0), true);
    ConformanceFixture.connect(a, b, params, params);
    return new ConformanceFixture.Side[] {a, b};
  }

  private ConformanceFixture.Side[] udPair(int depth) throws Exception {
    ConformanceFixture.Side a = f.side(4 * depth, depth * SLOT, null);
    ConformanceFixture.Side b = f.side(4 * depth, depth * SLOT, null);
    ConformanceFixture.createQp(a, QpType.UD, new QpCap(depth, depth, 1, 1, 0), true);
    ConformanceFixture.createQp(b, QpType.UD, new QpCap(depth, depth, 1, 1, 0), true);
    await(QpConnect.ud(a.qp, 1, QKEY, FIRST_PSN));
    await(QpConnect.ud(b.qp, 1, QKEY, 0x200));
    return new ConformanceFixture.Side[] {a, b};
  }

  /** Posts receives {@code 0..n-1}, receive i into slot i. */
  private static void postRecvs(ConformanceFixture.Side s, int n) {
    List<RecvWr> wrs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      wrs.add(RecvWr.of(i, Sge.of(s.mr, (long) i * SLOT, SLOT)));
    }
    s.qp.postRecv(wrs);
  }

  private static Sge payload(ConformanceFixture.Side s, int seq) {
    ByteBuffer b = s.mr.buffer();
    for (int k = 0; k < MSG / 4; k++) {
      b.putInt(seq * SLOT + 4 * k, seq);
    }
    return Sge.of(s.mr, (long) seq * SLOT, MSG);
  }

  /** Posts messages {@code from..to-1} as SEND_WITH_IMM (wr_id and immediate = the sequence number), one post. */
  private static void postMessages(ConformanceFixture.Side s, int from, int to) {
    List<SendWr> wrs = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      wrs.add(SendWr.sendWithImm(i, SendFlags.SIGNALED, i, payload(s, i)));
    }
    s.qp.postSend(wrs);
  }

  /**
   * The sequence number a successful receive carries (after {@code offset} bytes: 40 for UD's GRH area); the four
   * copies and the immediate, if any, must agree.
   */
  private static int received(ConformanceFixture.Side s, WorkCompletion wc, int offset) {
    assertEquals(WcStatus.SUCCESS, wc.status(), () -> "receive " + wc);
    ByteBuffer b = s.mr.buffer();
    int base = (int) wc.wrId() * SLOT + offset;
    int seq = b.getInt(base);
    for (int k = 1; k < MSG / 4; k++) {
      if (b.getInt(base + 4 * k) != seq) {
        fail("receive " + wc.wrId() + ": the payload is torn (" + seq + ", " + b.getInt(base + 4 * k) + ")");
      }
    }
    if ((wc.wcFlags() & WcFlags.WITH_IMM) != 0 && wc.immData() != seq) {
      fail("receive " + wc.wrId() + ": the payload says " + seq + ", the immediate " + wc.immData());
    }
    return seq;
  }

  /** (wr_id, status) of each completion: a compact replay record. */
  private static List<String> trace(List<WorkCompletion> wcs) {
    List<String> out = new ArrayList<>(wcs.size());
    for (WorkCompletion wc : wcs) {
      out.add(wc.wrId() + ":" + wc.status());
    }
    return out;
  }

  /** Polls until a completion {@code last} accepts; returns all polled, it included. */
  private static List<WorkCompletion> pollUntil(dev.midlayer.cq.CompletionQueue cq, Predicate<WorkCompletion> last) {
    List<WorkCompletion> got = new ArrayList<>();
    awaitTrue(() -> "the awaited completion on " + cq + "; got " + trace(got), () -> {
      for (WorkCompletion wc = cq.poll(); wc != null; wc = cq.poll()) {
        got.add(wc);
        if (last.test(wc)) {
          return true;
        }
      }
      return false;
    });
    return got;
  }

  /**
   * A fence for "no receive completes twice": one more message {@code n} (PSN after every checked one) must be
   * the next receive, so no duplicate of an earlier message completed before it.
   */
  private static void assertNextReceiveIs(ConformanceFixture.Side a, ConformanceFixture.Side b, int n, int grh) {
    b.qp.postRecv(RecvWr.of(n, Sge.of(b.mr, (long) n * SLOT, SLOT)));
    postMessages(a, n, n + 1);
    WorkCompletion next = ConformanceFixture.pollOne(b.cq);
    assertEquals(n, next.wrId(), () -> "the fence message is the next receive, not a duplicate: " + next);
    assertEquals(n, received(b, next, grh));
    WorkCompletion sent = ConformanceFixture.pollOne(a.cq);
    assertEquals(n, sent.wrId(), () -> "the fence message's send: " + sent);
  }

  /** Sends {@code n} messages a to b in four chains; checks exactly once, in order, one SUCCESS per WR. */
  private static void sendAndCheckExactlyOnce(ConformanceFixture.Side a, ConformanceFixture.Side b, int n) {
    postRecvs(b, n);
    for (int from = 0; from < n; from += Math.max(1, n / 4)) {
      postMessages(a, from, Math.min(n, from + Math.max(1, n / 4)));
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
    assertCqEmpty(a.cq);
    assertEquals(QpState.RTS, a.qp.state());
    assertEquals(QpState.RTS, b.qp.state());
  }

  // ---- RC ----

  @Test
  @DisplayName("RC under seeded drops, duplicates, reordering and delays both ways: every message exactly once, in "
      + "order, with its bytes, one SUCCESS per signaled WR")
  void rcExactlyOnceInOrderUnderFaults() throws Exception {
    assumeFaultInjection();
    ConformanceFixture.Side[] p = pair(QpType.RC, 256, f.reliableForLosses());
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    FaultPlan plan = FaultPlan.builder(0x5EED)
        .drop(ANY.data(), 0.08)
        .drop(ANY.kinds(PacketKind.ACK, PacketKind.NAK), 0.08)
        .duplicate(ANY, 0.08)
        .reorder(ANY, 0.08)
        .delay(ANY, 0.08, Duration.ofMillis(5))
        .build();
    f.faults(plan);
    sendAndCheckExactlyOnce(a, b, 200);
    FaultCounts ab = plan.counts(direction(a, b));
    assertTrue(ab.packets() >= 200, "every request went through the plan: " + ab);
    assertTrue(ab.dropped() > 0 && ab.duplicated() > 0 && ab.reordered() > 0 && ab.delayed() > 0, ab::toString);
    assertTrue(plan.counts(direction(b, a)).packets() > 0, "ACKs went through the plan");
    f.clearFaults();
    assertNextReceiveIs(a, b, 200, 0);
  }

  @Test
  @DisplayName("RC with each request dropped on its first transmission: all arrive exactly once on retry, and the "
      + "plan counts one drop per PSN")
  void rcDropFirstCountsExactly() throws Exception {
    assumeFaultInjection();
    ConformanceFixture.Side[] p = pair(QpType.RC, 64, f.reliableForLosses());
    FaultPlan plan = FaultPlan.builder(1).dropFirst(ANY.data(), 1).build();
    f.faults(plan);
    sendAndCheckExactlyOnce(p[0], p[1], 40);
    FaultCounts c = plan.counts(direction(p[0], p[1]));
    assertEquals(40, c.dropped(), "attempt 0 of each PSN happens once: " + c);
    assertTrue(c.packets() >= 80, "and each was sent again: " + c);
    assertEquals(0, c.duplicated() + c.delayed() + c.reordered());
    assertEquals(0, plan.counts(direction(p[1], p[0])).dropped(), "ACKs are not data");
    assertNextReceiveIs(p[0], p[1], 40, 0);
  }

  @Test
  @DisplayName("clearFaults: once removed, packets pass unchanged and are no longer counted")
  void clearFaultsStopsTheCounting() throws Exception {
    assumeFaultInjection();
    ConformanceFixture.Side[] p = pair(QpType.RC, 32, f.reliableForLosses());
    FaultPlan plan = FaultPlan.none(1);
    f.faults(plan);
    sendAndCheckExactlyOnce(p[0], p[1], 8);
    long seen = plan.counts(direction(p[0], p[1])).packets();
    assertTrue(seen >= 8, "every request went through the plan: " + seen);
    f.clearFaults();
    sendAndCheckExactlyOnce(p[0], p[1], 8); // wr_ids and slots 0..7 again: the first round is done
    assertEquals(seen, plan.counts(direction(p[0], p[1])).packets());
  }

  @Test
  @DisplayName("RC with every request of a direction dropped: the first WR ends RETRY_EXC_ERR within the retry "
      + "budget, the rest WR_FLUSH_ERR, each WR exactly one completion; the peer is untouched")
  void rcRetryExhaustion() throws Exception {
    assumeFaultInjection();
    int retries = 3;
    // Timeout code 16 and 3 retries: the budget runs out fast.
    ConformanceFixture.Side[] p = pair(QpType.RC, 16, QpConnect.Params.defaults().withRetries(16, retries, 7, 1));
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    Direction ab = direction(a, b);
    FaultPlan plan = FaultPlan.builder(1).dropAll(ANY.direction(ab).data()).build();
    f.faults(plan);
    postRecvs(b, 6);
    postMessages(a, 0, 5);
    List<WorkCompletion> sends = poll(a.cq, 5);
    assertEquals(List.of("0:RETRY_EXC_ERR", "1:WR_FLUSH_ERR", "2:WR_FLUSH_ERR", "3:WR_FLUSH_ERR",
        "4:WR_FLUSH_ERR"), trace(sends));
    awaitState(a.qp, QpState.ERR);
    // The first transmission and retry_cnt go-back-N rounds, no more: at most 5 x (1 + 3) requests.
    FaultCounts c = plan.counts(ab);
    assertEquals(c.packets(), c.dropped(), "every request was dropped");
    assertTrue(c.dropped() >= 5 + retries && c.dropped() <= 5L * (1 + retries), c::toString);
    assertEquals(FaultCounts.ZERO, plan.counts(ab.reverse()), "nothing reached b, so b never answered");
    // A WR posted in ERR is flushed, and is the next completion: no late completion of the five came before it.
    postMessages(a, 5, 6);
    assertEquals(List.of("5:WR_FLUSH_ERR"), trace(poll(a.cq, 1)));
    assertCqEmpty(b.cq);
    assertEquals(QpState.RTS, b.qp.state(), "b executed nothing and is still fine");
  }

  /** One run of the RC replay scenario: the sender's and the receiver's completion traces. */
  private List<List<String>> rcReplayRun(long seed) throws Exception {
    // reliableForLosses' long timeout: only the request that is always dropped may exhaust the retries.
    ConformanceFixture.Side[] p = pair(QpType.RC, 64, f.reliableForLosses());
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    // Seeded noise that RC absorbs, and one request (the 21st: PSN 0x100 + 20) that never gets through.
    FaultPlan plan = FaultPlan.builder(seed)
        .dropAll(ANY.direction(direction(a, b)).data().psn(FIRST_PSN + 20))
        .drop(ANY.data().attempts(0, 0), 0.2)
        .duplicate(ANY, 0.1)
        .build();
    f.faults(plan);
    postRecvs(b, 40);
    postMessages(a, 0, 40);
    List<WorkCompletion> sends = poll(a.cq, 40);
    List<WorkCompletion> recvs = poll(b.cq, 20);
    f.clearFaults();
    // b is still RTS and its 21st receive is still posted: nothing more arrived (a in ERR sends nothing).
    assertCqEmpty(b.cq);
    return List.of(trace(sends), trace(recvs));
  }

  @Test
  @DisplayName("RC replay: the same seed gives the same per-QP completion sequence (wr_id, status) on both sides")
  void rcReplay() throws Exception {
    assumeFaultInjection();
    List<List<String>> first = rcReplayRun(77);
    List<List<String>> second = restartAndRun(() -> rcReplayRun(77));
    assertEquals(first, second);
    List<String> expectedSends = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      expectedSends.add(i + ":" + (i < 20 ? "SUCCESS" : i == 20 ? "RETRY_EXC_ERR" : "WR_FLUSH_ERR"));
    }
    assertEquals(expectedSends, first.get(0));
    assertEquals(20, first.get(1).size());
  }

  /** A scenario run on a fresh midlayer (the first is shut down and checked). */
  private interface Run<T> {
    T run() throws Exception;
  }

  private <T> T restartAndRun(Run<T> run) throws Exception {
    restart(com.typesafe.config.ConfigFactory.empty());
    return run.run();
  }

  // ---- UC and UD ----

  private static final int N = 60;

  /** Drops 30% of the requests, except the last message: once that arrives, everything before it did. */
  private static FaultPlan lossyPlan(long seed) {
    return FaultPlan.builder(seed)
        .pass(ANY.psn(FIRST_PSN + N - 1))
        .drop(ANY.data(), 0.3)
        .build();
  }

  /** One run: N messages a to b through {@link #lossyPlan}; returns the receiver's sequence of message numbers. */
  private List<Integer> unreliableRun(QpType type, long seed) throws Exception {
    ConformanceFixture.Side[] p = type == QpType.UD ? udPair(N + 1) : pair(type, N + 1, f.reliableForLosses());
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    FaultPlan plan = lossyPlan(seed);
    f.faults(plan);
    postRecvs(b, N);
    if (type == QpType.UD) {
      AddressHandle ah = a.pd.createAh(b.lidPath());
      List<SendWr> wrs = new ArrayList<>();
      for (int i = 0; i < N; i++) {
        wrs.add(SendWr.udSend(i, SendFlags.SIGNALED, ah, b.qp.qpNum(), QKEY, payload(a, i)));
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
    List<WorkCompletion> recvs = pollUntil(b.cq, wc -> wc.ok() && received(b, wc, grh) == N - 1);
    List<Integer> got = new ArrayList<>();
    for (WorkCompletion wc : recvs) {
      got.add(received(b, wc, grh));
    }
    Direction ab = direction(a, b);
    List<Integer> expected = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      if (plan.decide(ab, a.qp.qpNum(), b.qp.qpNum(), FIRST_PSN + i, PacketKind.DATA, 0).passes()) {
        expected.add(i);
      }
    }
    assertEquals(expected, got, "exactly the messages the decision function passes arrive, in order");
    assertTrue(got.size() < N, "some were lost: " + got.size() + " of " + N);
    FaultCounts c = plan.counts(ab);
    assertEquals(N, c.packets(), "one packet per message, never a retransmission");
    assertEquals(N - got.size(), c.dropped());
    assertEquals(FaultCounts.ZERO, plan.counts(ab.reverse()), "no ACKs on UC/UD");
    assertEquals(QpState.RTS, a.qp.state(), "no error on either side");
    assertEquals(QpState.RTS, b.qp.state());
    return got;
  }

  @Test
  @DisplayName("UC loses dropped messages silently: sender SUCCESS for all, the receiver gets exactly the survivors, "
      + "in order")
  void ucLosesSilently() throws Exception {
    assumeFaultInjection();
    unreliableRun(QpType.UC, 11);
  }

  @Test
  @DisplayName("UD loses dropped datagrams silently: sender SUCCESS for all, the receiver gets exactly the survivors, "
      + "in order")
  void udLosesSilently() throws Exception {
    assumeFaultInjection();
    unreliableRun(QpType.UD, 11);
  }

  @Test
  @DisplayName("UC replay: the same seed loses the same messages on a fresh midlayer; another seed loses others")
  void ucReplay() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(driver().stableAddresses(),
        () -> driver().name() + ": its GIDs change with every incarnation, and the plan decides by them");
    assumeFaultInjection();
    List<Integer> first = unreliableRun(QpType.UC, 2024);
    assertEquals(first, restartAndRun(() -> unreliableRun(QpType.UC, 2024)));
    assertNotEquals(first, restartAndRun(() -> unreliableRun(QpType.UC, 2025)));
  }

  // ---- device and link ----

  private static long count(ConcurrentLinkedQueue<AsyncEvent> events, AsyncEventType type) {
    return events.stream().filter(e -> e.type() == type).count();
  }

  @Test
  @DisplayName("DEVICE_FATAL reaches the device's event handlers, its ports go DOWN and stay down, its QP goes to "
      + "ERR and every WR (in flight, queued, receive, posted after) ends in exactly one WR_FLUSH_ERR")
  void deviceFatalFlushesEverythingOnce() throws Exception {
    assumeFatalError();
    // Timeout 0 waits forever and the peer's receive queue is empty with RNR retry forever: the sends stay
    // outstanding until the fatal error, on any driver, faults or not.
    ConformanceFixture.Side[] p = pair(QpType.RC, 32, QpConnect.Params.defaults().withRetries(0, 7, 7, 1));
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    ConcurrentLinkedQueue<AsyncEvent> aEvents = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<AsyncEvent> bEvents = new ConcurrentLinkedQueue<>();
    await(a.dev.registerEventHandler("fault-contract", aEvents::add));
    await(b.dev.registerEventHandler("fault-contract", bEvents::add));
    for (int i = 0; i < 5; i++) {
      a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, (20L + i) * SLOT, SLOT)));
    }
    postMessages(a, 0, 10);

    f.raiseFatal(a.dev);
    awaitTrue(() -> "DEVICE_FATAL at the handler: " + aEvents, () -> count(aEvents, AsyncEventType.DEVICE_FATAL) == 1);
    AsyncEvent fatal = aEvents.stream().filter(e -> e.type() == AsyncEventType.DEVICE_FATAL).findFirst().orElseThrow();
    assertEquals(a.dev, fatal.device());
    List<WorkCompletion> flushed = poll(a.cq, 15);
    awaitState(a.qp, QpState.ERR);
    postMessages(a, 10, 12); // posted after the fatal error: flushed too
    flushed.addAll(poll(a.cq, 2));

    List<Long> sends = new ArrayList<>();
    TreeSet<Long> recvs = new TreeSet<>();
    for (WorkCompletion wc : flushed) {
      assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), () -> trace(flushed).toString());
      if (wc.wrId() >= 100) {
        assertTrue(recvs.add(wc.wrId()), "receive " + wc.wrId() + " completed twice");
      } else {
        sends.add(wc.wrId());
      }
    }
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L), sends, "sends flushed once, in order");
    assertEquals(new TreeSet<>(List.of(100L, 101L, 102L, 103L, 104L)), recvs);

    assertEquals(PortState.DOWN, await(a.dev.queryPort(1)).state(), "a dead device's ports are down");
    if (driver().supportsLinkControl()) {
      f.linkUp(a.dev, 1);
      assertEquals(PortState.DOWN, await(a.dev.queryPort(1)).state(), "and stay down");
    }
    f.raiseFatal(a.dev); // only the first call does anything
    // A receive posted now is flushed and is the next completion: no second flush of the first WRs before it.
    a.qp.postRecv(RecvWr.of(200, Sge.of(a.mr, 0, SLOT)));
    WorkCompletion last = ConformanceFixture.pollOne(a.cq);
    assertEquals(200, last.wrId(), () -> "the next completion after a second raiseFatal: " + last);
    assertEquals(1, count(aEvents, AsyncEventType.DEVICE_FATAL));
    assertEquals(0, count(aEvents, AsyncEventType.PORT_ERR), "no port events: the device event says it");
    // The other device is not affected.
    assertEquals(0, count(bEvents, AsyncEventType.DEVICE_FATAL));
    assertEquals(QpState.RTS, b.qp.state());
    assertEquals(PortState.ACTIVE, await(b.dev.queryPort(1)).state());
  }

  @Test
  @DisplayName("link flap during RC traffic: PORT_ERR then PORT_ACTIVE reach the handler, and every message posted "
      + "across the flap arrives exactly once and in order, each send SUCCESS")
  void linkFlapDuringRcTraffic() throws Exception {
    assumeLinkControl();
    ConformanceFixture.Side[] p = pair(QpType.RC, 64, f.reliableForLosses());
    ConformanceFixture.Side a = p[0];
    ConformanceFixture.Side b = p[1];
    ConcurrentLinkedQueue<AsyncEvent> events = new ConcurrentLinkedQueue<>();
    await(a.dev.registerEventHandler("fault-contract", events::add));
    int n = 40;
    postRecvs(b, n);
    postMessages(a, 0, n / 2);
    var up = f.flap(a.dev, 1, Duration.ofSeconds(5)); // 5 ms at the loopback's timer scale
    postMessages(a, n / 2, n);
    await(up);
    assertEquals(PortState.ACTIVE, await(a.dev.queryPort(1)).state());
    awaitTrue(() -> "PORT_ERR and PORT_ACTIVE: " + events, () -> count(events, AsyncEventType.PORT_ACTIVE) == 1);
    assertEquals(List.of(AsyncEventType.PORT_ERR, AsyncEventType.PORT_ACTIVE),
        events.stream().map(AsyncEvent::type).toList());
    assertEquals(1, events.iterator().next().portNum());

    List<WorkCompletion> recvs = poll(b.cq, n);
    for (int i = 0; i < n; i++) {
      assertEquals(i, received(b, recvs.get(i), 0), "message " + i);
    }
    List<WorkCompletion> sends = poll(a.cq, n);
    for (int i = 0; i < n; i++) {
      assertEquals(i, sends.get(i).wrId());
      assertEquals(WcStatus.SUCCESS, sends.get(i).status(), () -> trace(sends).toString());
    }
    assertNextReceiveIs(a, b, n, 0);
  }
}
