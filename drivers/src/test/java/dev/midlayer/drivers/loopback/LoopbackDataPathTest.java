package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.assertCqEmpty;
import static dev.midlayer.drivers.loopback.DpFixture.assertOk;
import static dev.midlayer.drivers.loopback.DpFixture.await;
import static dev.midlayer.drivers.loopback.DpFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Data-path behaviour that only the loopback driver can be made to show, so it stays out of the conformance
 * suite ({@code dev.midlayer.testkit.conformance}): real IB timers through {@code midlayer.loopback.timer-scale},
 * the one data-path thread its QP actors run on, and its send queue being taken by the QP actor.
 */
class LoopbackDataPathTest {
  private static final QpCap CAP = new QpCap(32, 32, 1, 1, 0);
  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("loopback-data-path");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private static QpAttr toState(QpState s) {
    return QpAttr.builder().qpState(s).build();
  }

  @Test
  @DisplayName("the RNR retry budget starts again after an ACK: with rnr_retry 1, each message may meet one RNR NAK")
  void rnrRetryCountResetsOnProgress() throws Exception {
    // Real IB timers here (scale 1.0): the responder's RNR timer code 27 is 122.88 ms, a wide margin for the
    // test thread to post each receive after the first attempt and before the retry. The responder stays
    // in RTR so that its first incoming request raises COMM_EST: that shows the first RNR NAK has happened.
    try (DpFixture g = DpFixture.start("dp-rnr-reset", "midlayer.loopback.timer-scale = 1.0")) {
      DpFixture.Side ga = g.side(16, 4096, null);
      DpFixture.Side gb = g.side(16, 4096, null);
      DpFixture.createQp(ga, QpType.RC, CAP, true);
      DpFixture.createQp(gb, QpType.RC, CAP, true);
      await(QpConnect.connect(ga.qp, gb.lidPath(), gb.qp.qpNum(), 1, 1,
          QpConnect.Params.defaults().withRetries(0, 7, 1, 27)));
      await(gb.qp.modify(QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1).accessFlags(0).build(),
          QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS));
      await(gb.qp.modify(QpAttr.builder().qpState(QpState.RTR).ahAttr(ga.lidPath())
          .pathMtu(dev.midlayer.ib.Mtu.MTU_4096).destQpNum(ga.qp.qpNum()).rqPsn(1).maxDestRdAtomic(1)
          .minRnrTimer(27).build(), QpAttrMask.STATE | QpAttrMask.AV | QpAttrMask.PATH_MTU | QpAttrMask.DEST_QPN
          | QpAttrMask.RQ_PSN | QpAttrMask.MAX_DEST_RD_ATOMIC | QpAttrMask.MIN_RNR_TIMER));

      // Message 1 meets an RNR NAK (no receive yet), then a receive: it succeeds on the retry.
      ga.qp.postSend(SendWr.send(1, 0, Sge.of(ga.mr, 0, 8)));
      DpFixture.awaitTrue(() -> "COMM_EST on the responder (events " + gb.events + ")", () -> gb.events.stream()
          .anyMatch(e -> e.type() == dev.midlayer.ib.AsyncEventType.COMM_EST));
      assertCqEmpty(ga.cq); // COMM_EST showed the first attempt arrived: the NAK's retry is 122 ms away
      gb.qp.postRecv(RecvWr.of(100, Sge.of(gb.mr, 0, 64)));
      assertOk(pollOne(ga.cq));
      assertOk(pollOne(gb.cq));

      // Message 2 meets one RNR NAK too: after the ACK of message 1 it has its own retry left.
      ga.qp.postSend(SendWr.send(2, 0, Sge.of(ga.mr, 0, 8)));
      // No fence shows that message 2 met its RNR NAK (the responder has no event for it), so a short quiet
      // period stands here; it only makes the check weaker, never flaky: without the NAK the send just succeeds.
      long quietUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(5);
      for (int spins = 0; System.nanoTime() < quietUntil; DpFixture.backOff(spins++)) {
        assertCqEmpty(ga.cq);
      }
      gb.qp.postRecv(RecvWr.of(101, Sge.of(gb.mr, 0, 64)));
      WorkCompletion s = pollOne(ga.cq);
      assertOk(s);
      assertEquals(2, s.wrId());
      assertOk(pollOne(gb.cq));
    }
  }

  @Test
  @DisplayName("modify to RESET completes only once the driver applied it, so a receive posted after RESET -> INIT is kept")
  void resetIsAppliedBeforeLaterPosts() throws Exception {
    // One data-path thread, held by a task of its own, stands for a busy or slow driver actor: the
    // modifies (device actor) complete while the QP actor has not yet run.
    try (DpFixture g = DpFixture.start("dp-flush-late-reset",
        "midlayer.data-path-dispatcher.prestarted-fork-join { parallelism-min = 1, parallelism-max = 1 }")) {
      CountDownLatch holding = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      DpFixture.Side h = g.side(16, 4096, null);
      DpFixture.Side b = g.side(h.dev, 64, 4096, null);
      QueuePair hq = DpFixture.createQp(h, QpType.RC, CAP, true);
      QueuePair bq = DpFixture.createQp(b, QpType.RC, CAP, true);
      await(QpConnect.connect(bq, h.lidPath(), hq.qpNum(), 1, 1, DpFixture.RELIABLE));
      g.testKit.system().dispatchers()
          .lookup(org.apache.pekko.actor.typed.DispatcherSelector.fromConfig("midlayer.data-path-dispatcher"))
          .execute(() -> {
            holding.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int spins = 0;
            while (release.getCount() > 0 && System.nanoTime() < deadline) {
              DpFixture.backOff(spins++);
            }
          });
      assertTrue(holding.await(DpFixture.DEADLINE_MS, TimeUnit.MILLISECONDS));
      java.util.concurrent.CompletableFuture<?> reset;
      try {
        // The modify completes only once the driver applied it: not while its only thread is held.
        reset = bq.modify(toState(QpState.RESET), QpAttrMask.STATE).toCompletableFuture();
        // A fence instead of a timed wait: a later verb of the same device (its actor takes them in order)
        // completes while the reset is still pending.
        ProtectionDomain later = await(b.dev.device().allocPd());
        assertFalse(reset.isDone(), "the reset completed while the driver's only thread was held");
        await(later.dealloc());
      } finally {
        release.countDown();
      }
      await(reset);
      await(bq.modify(QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1).accessFlags(0).build(),
          QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS));
      bq.postRecv(RecvWr.of(500, Sge.of(b.mr, 0, 64))); // accepted: the QP is in INIT
      await(bq.modify(toState(QpState.ERR), QpAttrMask.STATE));
      bq.postRecv(RecvWr.of(501)); // a marker, flushed after everything posted before it
      List<Long> seen = new ArrayList<>();
      DpFixture.awaitTrue(() -> "the flush of marker 501 (seen: " + seen + ")", () -> {
        WorkCompletion wc = b.cq.poll();
        if (wc != null) {
          seen.add(wc.wrId());
        }
        return seen.contains(501L);
      });
      assertEquals(List.of(500L, 501L), seen, "receive 500 was posted in INIT: it must be flushed, not lost");
    }
  }

  @Test
  @DisplayName("a LOCAL_INV held back behind an in-flight SEND whose ACK arrives in SQD runs once the QP is back "
      + "in RTS (no completion is lost)")
  void localInvHeldAcrossSqd() throws Exception {
    DpFixture.Side a0 = f.side(256, 65536, null);
    DpFixture.Side b0 = f.side(256, 65536, null);
    DpFixture.createQp(a0, QpType.RC, new QpCap(64, 64, 4, 4, 0), true);
    DpFixture.createQp(b0, QpType.RC, new QpCap(64, 64, 4, 4, 0), true);
    DpFixture.connect(a0, b0);
    DpFixture.Side[] p = {a0, b0};
    DpFixture.Side a = p[0];
    DpFixture.Side b = p[1];
    MemoryRegion mr = fastReg(a, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ);
    // b has no receive yet: the SEND stays in flight (RNR retries forever), the LOCAL_INV waits behind it.
    a.qp.postSend(List.of(SendWr.send(1, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8)),
        SendWr.localInv(2, SendFlags.SIGNALED, mr.rkey())));
    // The QP's actor took both: the SEND is in flight and the LOCAL_INV is held back behind it.
    DpFixture.awaitTrue("the send queue taken", () -> DpFixture.sendQueue(a.qp).isEmpty());
    await(a.qp.modify(dev.midlayer.ib.QpAttr.builder().qpState(QpState.SQD).build(),
        dev.midlayer.ib.QpAttrMask.STATE));
    b.qp.postRecv(RecvWr.of(10, Sge.of(b.mr, 0, 64)));
    WorkCompletion send = pollOne(a.cq); // its ACK arrives while the QP is in SQD
    assertEquals(1, send.wrId());
    assertOk(send);
    await(a.qp.modify(dev.midlayer.ib.QpAttr.builder().qpState(QpState.RTS).build(),
        dev.midlayer.ib.QpAttrMask.STATE));
    WorkCompletion inv = pollOne(a.cq);
    assertEquals(2, inv.wrId());
    assertOk(inv);
    assertEquals(WcOpcode.LOCAL_INV, inv.opcode());
    assertFalse(mr.isValid());
  }

  /** A page-backed fast-reg region of {@code s}'s PD, VALID after a REG_MR on its QP with {@code access}. */
  private static MemoryRegion fastReg(DpFixture.Side s, int access) throws Exception {
    MemoryRegion pool = await(s.pd.registerMr(ByteBuffer.allocateDirect(8 * dev.midlayer.verbs.Page.SIZE),
        AccessFlags.LOCAL_WRITE));
    MemoryRegion mr = await(s.pd.allocMr(4));
    mr.mapPages(List.of(pool.page(0)), 0x1000, dev.midlayer.verbs.Page.SIZE);
    s.qp.postSend(SendWr.regMr(1, SendFlags.SIGNALED, mr, mr.rkey(), access));
    assertOk(pollOne(s.cq));
    return mr;
  }

  @Test
  @DisplayName("the device's key table follows a fast-reg region: FREE does not resolve, REG_MR makes the key "
      + "resolve to that region and mapping, a REG_MR refused on a VALID region keeps it, LOCAL_INV unresolves it")
  void keyTableFollowsFastRegStates() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    DpFixture.Side b = f.side(64, 4096, null);
    DpFixture.createQp(a, QpType.RC, CAP, true);
    DpFixture.createQp(b, QpType.RC, CAP, true);
    DpFixture.connect(a, b);
    MemoryRegion pool = await(a.pd.registerMr(ByteBuffer.allocateDirect(4 * dev.midlayer.verbs.Page.SIZE),
        AccessFlags.LOCAL_WRITE));
    MemoryRegion mr = await(a.pd.allocMr(4));
    mr.mapPages(List.of(pool.page(0), pool.page(1)), 0x8000, 2L * dev.midlayer.verbs.Page.SIZE);
    var keys = DpFixture.keys(a.dev);
    assertNull(keys.resolve(mr.rkey()), "a FREE region's key does not resolve");
    assertNull(keys.slot(mr.rkey() + (0x4000 << 8)), "no region has a key slot that far off");
    int key = mr.rkey();
    a.qp.postSend(SendWr.regMr(1, SendFlags.SIGNALED, mr, key, AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE));
    assertOk(pollOne(a.cq));
    assertSame(mr, keys.lookup(key));
    // REG_MR again on the VALID region (a new mapping staged): refused, the old mapping still resolves.
    mr.mapPages(List.of(pool.page(3)), 0x9000, dev.midlayer.verbs.Page.SIZE);
    a.qp.postSend(SendWr.regMr(2, SendFlags.SIGNALED, mr, key, AccessFlags.LOCAL_WRITE));
    assertEquals(dev.midlayer.ib.WcStatus.LOC_QP_OP_ERR, pollOne(a.cq).status());
    var m = keys.resolve(key);
    assertNotNull(m, "the old key still resolves");
    assertEquals(0x8000, m.iova(), "the old mapping");
    assertEquals(2L * dev.midlayer.verbs.Page.SIZE, m.length());
    // LOCAL_INV on fresh QPs (the first went to ERR): the key stops resolving.
    DpFixture.createQp(a, QpType.RC, CAP, true);
    DpFixture.createQp(b, QpType.RC, CAP, true);
    DpFixture.connect(a, b);
    a.qp.postSend(SendWr.localInv(3, SendFlags.SIGNALED, key));
    assertOk(pollOne(a.cq));
    assertNull(keys.resolve(key), "an invalidated key does not resolve");
  }

  @Test
  @DisplayName("the key table follows an FMR: its key resolves while mapped, the old key stops resolving at once "
      + "on a remap and on unmap")
  void keyTableFollowsFmr() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    MemoryRegion pool = await(a.pd.registerMr(ByteBuffer.allocateDirect(4 * dev.midlayer.verbs.Page.SIZE),
        AccessFlags.LOCAL_WRITE));
    var keys = DpFixture.keys(a.dev);
    dev.midlayer.verbs.Fmr fmr = await(a.pd.allocFmr(AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE, 4));
    int key = fmr.mapPhys(List.of(pool.page(0)), 0x10000);
    assertNotNull(keys.resolve(key), "a mapped FMR's key resolves");
    int key2 = fmr.mapPhys(List.of(pool.page(1)), 0x20000);
    assertNull(keys.resolve(key), "the old key stops resolving at once");
    assertNotNull(keys.resolve(key2));
    await(fmr.unmap());
    assertNull(keys.resolve(key2), "an unmapped FMR's key does not resolve");
  }
}
