package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.DEADLINE_MS;
import static dev.midlayer.testkit.conformance.ConformanceFixture.RELIABLE;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.MidlayerException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.monitor.Check;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.SharedReceiveQueue;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Consumers that misbehave: callbacks that throw or block, a CQ that is never polled until it overflows,
 * {@code processDirect} on a CQ that its actor polls. Whatever a consumer does to its own objects, the rest
 * keeps working: later posts complete, modifies and drains complete (or fail with a typed error), other
 * devices' traffic flows. Every wait is bounded by {@link ConformanceFixture#DEADLINE_MS}.
 */
public abstract class HostileConsumerContract extends DriverContract {
  private static final QpCap CAP = new QpCap(16, 16, 1, 1, 0);
  private static final int QKEY = 0x0BAD_CAFE;

  // ---- throwing async event handlers ----

  @Test
  @DisplayName("a QP event handler that throws on COMM_EST is logged and the QP goes on: the message is received, "
      + "modify RTR -> RTS completes, and later sends complete")
  void qpEventHandlerThrowingOnCommEst() throws Exception {
    ConcurrentLinkedQueue<AsyncEventType> seen = new ConcurrentLinkedQueue<>();
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    b.qp = await(b.pd.createQp(new QpInitAttr(QpType.RC, b.cq, b.cq, CAP, true,
        throwingOn(AsyncEventType.COMM_EST, seen), null)));
    // a is RTS; b only RTR, so the first packet it receives raises COMM_EST.
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, RELIABLE));
    await(toRtr(b.qp, a.lidPath(), a.qp.qpNum(), 0x100));

    b.qp.postRecv(RecvWr.of(10, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 32)));
    awaitTrue(() -> "COMM_EST at " + b.qp + " (seen: " + seen + ")", () -> seen.contains(AsyncEventType.COMM_EST));

    assertStatus(WcStatus.SUCCESS, ConformanceFixture.pollOne(a.cq), "the send that raised COMM_EST at the peer");
    assertStatus(WcStatus.SUCCESS, poll(b.cq, 1, "the receive whose arrival raised COMM_EST").get(0),
        "the receive whose arrival raised COMM_EST");
    completes(b.qp.modify(QpAttr.builder().qpState(QpState.RTS).sqPsn(0x200).timeout(24).retryCnt(7).rnrRetry(7)
        .maxRdAtomic(1).build(), QpAttrMask.STATE | QpAttrMask.SQ_PSN | QpAttrMask.TIMEOUT | QpAttrMask.RETRY_CNT
        | QpAttrMask.RNR_RETRY | QpAttrMask.MAX_QP_RD_ATOMIC), "modify RTR -> RTS after the handler threw");

    a.qp.postRecv(RecvWr.of(20, Sge.of(a.mr, 1024, 64)));
    b.qp.postSend(SendWr.send(2, 0, Sge.of(b.mr, 1024, 16)));
    assertStatus(WcStatus.SUCCESS, poll(b.cq, 1, "a later send of the QP whose handler threw").get(0),
        "a later send of the QP whose handler threw");
    assertStatus(WcStatus.SUCCESS, poll(a.cq, 1, "its receive at the peer").get(0), "its receive at the peer");
  }

  @Test
  @DisplayName("a QP event handler that blocks on COMM_EST runs on the callback dispatcher, never in the QP's "
      + "driver actor: while it blocks, the QP's own traffic completes")
  void qpEventHandlerBlockingOnCommEstHoldsUpNoTraffic() throws Exception {
    kit().expectViolations(Check.BLOCKING); // the handler blocks on a latch, on purpose
    HeldCallbacks held = new HeldCallbacks(1);
    AtomicReference<String> handlerThread = new AtomicReference<>();
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    b.qp = await(b.pd.createQp(new QpInitAttr(QpType.RC, b.cq, b.cq, CAP, true, e -> {
      if (e.type() == AsyncEventType.COMM_EST) {
        handlerThread.set(Thread.currentThread().getName());
        held.hold();
      }
    }, null)));
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, RELIABLE));
    await(toRtr(b.qp, a.lidPath(), a.qp.qpNum(), 0x100));
    try {
      for (int i = 0; i < 8; i++) {
        b.qp.postRecv(RecvWr.of(10 + i, Sge.of(b.mr, 64L * i, 64)));
      }
      a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 32)));
      assertTrue(held.awaitEntered(ConformanceFixture.DEADLINE_MS), "COMM_EST reached the handler");
      for (int i = 2; i <= 8; i++) {
        a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 0, 32)));
      }
      assertEquals(8, poll(a.cq, 8, "the sends while the peer's COMM_EST handler blocks").size());
      assertEquals(8, poll(b.cq, 8, "their receives").size());
      assertTrue(handlerThread.get().contains("callback-dispatcher"), "the handler ran on " + handlerThread.get());
    } finally {
      held.releaseOnceParked();
    }
    assertBlockingSeen();
  }

  @Test
  @DisplayName("a QP event handler that throws on SQ_DRAINED is logged and the QP goes on: modify RTS -> SQD "
      + "completes, modify SQD -> RTS completes, and later sends complete")
  void qpEventHandlerThrowingOnSqDrained() throws Exception {
    ConcurrentLinkedQueue<AsyncEventType> seen = new ConcurrentLinkedQueue<>();
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    a.qp = await(a.pd.createQp(new QpInitAttr(QpType.RC, a.cq, a.cq, CAP, true,
        throwingOn(AsyncEventType.SQ_DRAINED, seen), null)));
    ConformanceFixture.createQp(b, QpType.RC, CAP, true);
    ConformanceFixture.connect(a, b);

    completes(a.qp.modify(QpAttr.builder().qpState(QpState.SQD).enSqdAsyncNotify(true).build(),
        QpAttrMask.STATE | QpAttrMask.EN_SQD_ASYNC_NOTIFY), "modify RTS -> SQD (its SQ_DRAINED handler throws)");
    awaitTrue(() -> "SQ_DRAINED at " + a.qp + " (seen: " + seen + ")", () -> seen.contains(AsyncEventType.SQ_DRAINED));
    completes(a.qp.modify(QpAttr.builder().qpState(QpState.RTS).build(), QpAttrMask.STATE),
        "modify SQD -> RTS after the handler threw");

    b.qp.postRecv(RecvWr.of(10, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.send(1, 0, Sge.of(a.mr, 0, 32)));
    assertStatus(WcStatus.SUCCESS, poll(a.cq, 1, "a send after SQ_DRAINED threw").get(0),
        "a send after SQ_DRAINED threw");
    assertStatus(WcStatus.SUCCESS, poll(b.cq, 1, "its receive").get(0), "its receive");
  }

  @Test
  @DisplayName("an SRQ event handler that throws on SRQ_LIMIT_REACHED is logged and traffic on the QP using the SRQ "
      + "goes on: every send completes and every message is received")
  void srqEventHandlerThrowingOnLimit() throws Exception {
    ConcurrentLinkedQueue<AsyncEventType> seen = new ConcurrentLinkedQueue<>();
    ConformanceFixture.Side a = f.side(64, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    SharedReceiveQueue srq = await(b.pd.createSrq(new SrqAttr(16, 1, 3),
        throwingOn(AsyncEventType.SRQ_LIMIT_REACHED, seen), null));
    ConformanceFixture.createQp(a, QpType.RC, CAP, true);
    b.qp = await(b.pd.createQp(QpInitAttr.of(QpType.RC, b.cq, CAP).withSrq(srq)));
    ConformanceFixture.connect(a, b);
    for (int i = 0; i < 6; i++) {
      srq.postRecv(RecvWr.of(100 + i, Sge.of(b.mr, 64L * i, 64)));
    }

    // The 4th receive taken leaves 2 < limit 3: SRQ_LIMIT_REACHED, whose handler throws.
    for (int i = 0; i < 6; i++) {
      a.qp.postSend(SendWr.send(i, 0, Sge.of(a.mr, 0, 16)));
      String what = "send " + i + (i >= 3 ? " (at or after SRQ_LIMIT_REACHED)" : "");
      WorkCompletion sent = poll(a.cq, 1, what).get(0);
      assertStatus(WcStatus.SUCCESS, sent, what);
      WorkCompletion recv = poll(b.cq, 1, "the receive of " + what).get(0);
      assertStatus(WcStatus.SUCCESS, recv, "the receive of " + what);
      assertEquals(100 + i, recv.wrId(), "the SRQ's receives are used in posting order");
    }
    // the event reaches its handler on the callback dispatcher, independently of the completions
    awaitTrue(() -> "SRQ_LIMIT_REACHED at " + srq + " (seen: " + seen + ")",
        () -> seen.contains(AsyncEventType.SRQ_LIMIT_REACHED));
  }

  // ---- blocking completion handler ----

  @Test
  @DisplayName("a completion handler that blocks holds up only its own CQ: traffic between other devices, on other "
      + "CQs, still completes (default data-path dispatcher)")
  void blockingCompletionHandlerDoesNotFreezeOtherDevices() throws Exception {
    kit().expectViolations(Check.BLOCKING); // the handlers block on a latch, on purpose
    // Block as many handlers (on distinct CQs) as the consumer-callback dispatcher has threads: every one of
    // them; the transport on the data-path dispatcher must go on regardless.
    int threads = callbackThreads(kit().testKit().system().settings().config());
    HeldCallbacks held = new HeldCallbacks(threads);

    // Pair B: two devices, an RC connection, CQs without handlers that the test polls. Connected first
    // (a modify completes only once the QP's driver actor applied it).
    ConformanceFixture.Side b0 = f.side(64, 4096, null);
    ConformanceFixture.Side b1 = f.side(64, 4096, null);
    ConformanceFixture.createQp(b0, QpType.RC, CAP, true);
    ConformanceFixture.createQp(b1, QpType.RC, CAP, true);
    ConformanceFixture.connect(b0, b1);

    // Pair A: UD QPs on device a0 sending to device a1; each QP's CQ has a handler that blocks.
    ConformanceFixture.Side a1 = f.side(64, 4096, null);
    ConformanceFixture.createQp(a1, QpType.UD, CAP, true);
    await(QpConnect.ud(a1.qp, 1, QKEY, 0));
    Device a0 = f.addDevice();
    ConformanceFixture.Side a0Side = f.side(a0, 64, 4096, null);
    AddressHandle toA1 = a0Side.pd.createAh(a1.lidPath());
    List<QueuePair> blockedQps = new ArrayList<>();
    List<CompletionQueue> blockedCqs = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      CompletionQueue cq = await(a0.createCq(16, c -> held.hold(), null, null));
      QueuePair qp = await(a0Side.pd.createQp(QpInitAttr.of(QpType.UD, cq, CAP)));
      await(QpConnect.ud(qp, 1, QKEY, 0));
      blockedCqs.add(cq);
      blockedQps.add(qp);
    }

    try {
      for (int i = 0; i < threads; i++) {
        blockedCqs.get(i).requestNotify(CqNotify.NEXT_COMP, false);
        blockedQps.get(i).postSend(SendWr.udSend(i, SendFlags.SIGNALED, toA1, a1.qp.qpNum(), QKEY,
            Sge.of(a0Side.mr, 0, 8)));
      }
      awaitTrue(() -> "a blocking completion handler on device " + a0.name() + " to be called",
          () -> held.notEntered() < threads);
      // Give the other blocking handlers the chance to be entered too (each may take a thread).
      held.awaitEntered(2000);

      b1.qp.postRecv(RecvWr.of(7, Sge.of(b1.mr, 0, 64)));
      b0.qp.postSend(SendWr.send(8, 0, Sge.of(b0.mr, 0, 16)));
      String what = "pair B (" + b0.dev.name() + " -> " + b1.dev.name() + ") while " + (threads - held.notEntered())
          + " completion handler(s) on " + a0.name() + " block (callback threads: " + threads + ")";
      assertStatus(WcStatus.SUCCESS, poll(b0.cq, 1, "the send of " + what).get(0), "the send of " + what);
      assertStatus(WcStatus.SUCCESS, poll(b1.cq, 1, "the receive of " + what).get(0), "the receive of " + what);
    } finally {
      held.releaseOnceParked();
    }
    assertBlockingSeen();
  }

  // ---- drains after a CQ overflow ----

  enum Drain { SQ, RQ, QP }

  @ParameterizedTest(name = "drain{0}")
  @EnumSource(Drain.class)
  @DisplayName("after the QP's CQ overflowed, a drain completes or fails with a typed error within the deadline")
  void drainAfterCqOverflowSettles(Drain which) throws Exception {
    Device dev = f.addDevice();
    ConformanceFixture.Side s = f.side(dev, 64, 4096, null);
    // A DIRECT CQ nobody polls: 2 entries, so the 3rd completion overflows it, deterministically.
    CompletionQueue cq = await(dev.allocCq(2, PollContext.DIRECT));
    QueuePair qp = await(s.pd.createQp(new QpInitAttr(QpType.UD, cq, cq, CAP, true, null, null)));
    await(QpConnect.ud(qp, 1, QKEY, 0));
    qp.postRecv(RecvWr.of((c, wc) -> { }, Sge.of(s.mr, 2048, 64)));
    AddressHandle self = s.pd.createAh(s.lidPath());
    for (int i = 0; i < 8; i++) {
      qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(i).cqe((c, wc) -> { }).ud(self, 0xABCDE, QKEY)
          .sge(Sge.of(s.mr, 0, 8)).build());
    }
    awaitTrue("the overflow of " + cq, cq::overflowed);

    CompletionStage<?> drain = switch (which) {
      case SQ -> qp.drainSq();
      case RQ -> qp.drainRq();
      case QP -> qp.drainQp();
    };
    settles(drain, "drain" + which + " of " + qp + " after its CQ overflowed");
  }

  // ---- processDirect ----

  @Test
  @DisplayName("processDirect is refused with a typed error on a CQ that its actor polls (ACTOR, or createCq with a "
      + "handler)")
  void processDirectRefusedOnCqsPolledByTheirActor() throws Exception {
    Device dev = f.addDevice();
    CompletionQueue actorCq = await(dev.allocCq(16, PollContext.ACTOR));
    CompletionQueue legacyCq = await(dev.createCq(16, c -> { }, null, null));
    assertAll(
        () -> assertThrows(MidlayerException.class, () -> actorCq.processDirect(16),
            "processDirect on an ACTOR CQ (its done callbacks would run concurrently with the CQ actor's)"),
        () -> assertThrows(MidlayerException.class, () -> legacyCq.processDirect(16),
            "processDirect on a createCq CQ (concurrently with its completion handler)"));
  }

  @Test
  @DisplayName("the done callbacks that processDirect runs on a DIRECT CQ run in atomic context")
  void processDirectRunsCallbacksInAtomicContext() throws Exception {
    Device dev = f.addDevice();
    ConformanceFixture.Side s = f.side(dev, 64, 4096, null);
    CompletionQueue cq = await(dev.allocCq(16, PollContext.DIRECT));
    QueuePair qp = await(s.pd.createQp(QpInitAttr.of(QpType.UD, cq, CAP)));
    await(QpConnect.ud(qp, 1, QKEY, 0));
    AddressHandle self = s.pd.createAh(s.lidPath());
    AtomicReference<Boolean> atomic = new AtomicReference<>();
    qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(1).flags(SendFlags.SIGNALED)
        .cqe((c, wc) -> atomic.set(AtomicContext.isAtomic())).ud(self, 0xABCDE, QKEY).sge(Sge.of(s.mr, 0, 8)).build());
    awaitTrue("the completion on " + cq, () -> cq.peek() > 0);

    assertEquals(1, cq.processDirect(16));
    assertEquals(Boolean.TRUE, atomic.get(), "AtomicContext.isAtomic() inside a done callback run by processDirect");
  }

  // ---- helpers ----

  /** The monitor saw the blocking a test provoked on purpose (BlockHound is active in the build's tests). */
  private void assertBlockingSeen() {
    awaitTrue(() -> "the monitor to report the blocking handler: " + kit().monitor().report(),
        () -> !kit().monitor().violations(Check.BLOCKING).isEmpty());
  }

  /** An event handler that records every event type and throws on {@code type}. */
  private static EventHandler throwingOn(AsyncEventType type, ConcurrentLinkedQueue<AsyncEventType> seen) {
    return e -> {
      seen.add(e.type());
      if (e.type() == type) {
        throw new IllegalStateException("hostile consumer: the event handler throws on " + type);
      }
    };
  }

  /** RESET -> INIT -> RTR for an RC QP (the first two steps of {@link QpConnect#connect}). */
  private static CompletionStage<?> toRtr(QueuePair qp, AhAttr remote, int remoteQpn, int rqPsn) {
    QpAttr init = QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1)
        .accessFlags(AccessFlags.REMOTE_WRITE).build();
    QpAttr rtr = QpAttr.builder().qpState(QpState.RTR).ahAttr(remote).pathMtu(Mtu.MTU_4096).destQpNum(remoteQpn)
        .rqPsn(rqPsn).maxDestRdAtomic(1).minRnrTimer(1).build();
    return qp.modify(init, QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS)
        .thenCompose(d -> qp.modify(rtr, QpAttrMask.STATE | QpAttrMask.AV | QpAttrMask.PATH_MTU
            | QpAttrMask.DEST_QPN | QpAttrMask.RQ_PSN | QpAttrMask.MAX_DEST_RD_ATOMIC | QpAttrMask.MIN_RNR_TIMER));
  }

  /**
   * The number of threads of the consumer-callback dispatcher (CQ actors run there): the midlayer's
   * BackoffExecutor of ceil(cores x parallelism-factor) workers bounded by parallelism-min and -max.
   */
  static int callbackThreads(Config config) {
    Config d = config.getConfig(config.getString("midlayer.dispatchers.callback"));
    return dev.midlayer.dispatch.BackoffExecutor.parallelism(d.getConfig("backoff-executor"),
        Runtime.getRuntime().availableProcessors());
  }

  /** {@link ConformanceFixture#poll}, with {@code what} in front of the failure message. */
  private static List<WorkCompletion> poll(CompletionQueue cq, int n, String what) {
    try {
      return ConformanceFixture.poll(cq, n);
    } catch (AssertionError e) {
      throw new AssertionError(what + ": " + e.getMessage(), e);
    }
  }

  private static void assertStatus(WcStatus expected, WorkCompletion wc, String what) {
    assertEquals(expected, wc.status(), () -> what + ": " + wc);
  }

  /** Fails unless {@code stage} completes normally within the deadline. */
  private static void completes(CompletionStage<?> stage, String what) throws Exception {
    try {
      stage.toCompletableFuture().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      fail(what + " did not complete within " + DEADLINE_MS + " ms");
    }
  }

  /** Fails unless {@code stage} completes, or fails with a {@link MidlayerException}, within the deadline. */
  static void settles(CompletionStage<?> stage, String what) throws InterruptedException {
    try {
      stage.toCompletableFuture().get(DEADLINE_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      fail(what + " neither completed nor failed within " + DEADLINE_MS + " ms");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      if (!(cause instanceof MidlayerException)) {
        fail(what + " failed with " + cause + ", not a typed midlayer error", cause);
      }
    }
  }
}
