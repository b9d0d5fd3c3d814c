package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.Cqe;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.ResourceBusyException;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.SharedReceiveQueue;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Shared receive queues (limit event, QPs taking from one pool, busy destroy) and the drain verbs.
 *
 * <p>Seed rules: C3 (SRQ_LIMIT_REACHED, LAST_WQE_REACHED and SQ_DRAINED events in any context), C4 (the
 * drain verbs may sleep), C15 (a busy SRQ cannot be destroyed). IB spec: IBA vol. 1 §10.2.9 (shared receive
 * queues), §11.6.3 (affiliated asynchronous events), §10.3.1 (SQD).
 */
public abstract class SrqAndDrainContract extends DriverContract {
  private Device a;
  private Device b;
  private ProtectionDomain pdA;
  private ProtectionDomain pdB;

  @BeforeEach
  void devices() throws Exception {
    a = f.addDevice();
    b = f.addDevice();
    pdA = await(a.allocPd());
    pdB = await(b.allocPd());
  }

  private int lid(Device d) {
    return d.cachedPort(1).lid();
  }

  private QueuePair[] connectedRc(CompletionQueue cqA, CompletionQueue cqB, SharedReceiveQueue srqB) throws Exception {
    QpCap cap = new QpCap(32, 32, 2, 2, 0);
    QueuePair qa = await(pdA.createQp(QpInitAttr.of(QpType.RC, cqA, cap)));
    QueuePair qb = await(pdB.createQp(QpInitAttr.of(QpType.RC, cqB, cap).withSrq(srqB)));
    await(QpConnect.connect(qa, ConformanceFixture.path(b, 1), qb.qpNum(), 1, 2, QpConnect.Params.defaults()));
    await(QpConnect.connect(qb, ConformanceFixture.path(a, 1), qa.qpNum(), 2, 1, QpConnect.Params.defaults()));
    return new QueuePair[] {qa, qb};
  }

  @Test
  @DisplayName("two QPs on one SRQ take its receives in posting order; the armed limit fires SRQ_LIMIT_REACHED once")
  void srqSharedByQpsAndLimitFiresOnce() throws Exception {
    TestProbe<AsyncEvent> events = kit().testKit().createTestProbe();
    SharedReceiveQueue srq = await(pdB.createSrq(new SrqAttr(16, 1, 0), events.getRef()::tell, null));
    CompletionQueue cqA = await(a.createCq(64, null, null, null));
    CompletionQueue cqB = await(b.createCq(64, null, null, null));
    QueuePair[] p1 = connectedRc(cqA, cqB, srq);
    QueuePair[] p2 = connectedRc(cqA, cqB, srq);
    MemoryRegion src = await(pdA.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE));
    MemoryRegion dst = await(pdB.registerMr(ByteBuffer.allocateDirect(16 * 64), AccessFlags.LOCAL_WRITE));
    for (int i = 0; i < 6; i++) {
      srq.postRecv(RecvWr.of(100 + i, Sge.of(dst, 64L * i, 64)));
    }
    await(srq.modify(new SrqAttr(16, 1, 3), SrqAttr.LIMIT));
    assertEquals(3, srq.query().srqLimit());
    // Four sends, alternating QPs: the receives are used in SRQ posting order.
    for (int i = 0; i < 4; i++) {
      (i % 2 == 0 ? p1[0] : p2[0]).postSend(SendWr.send(i, 0, Sge.of(src, 0, 8)));
      WorkCompletion recv = pollOne(cqB);
      assertEquals(WcStatus.SUCCESS, recv.status());
      assertEquals(100 + i, recv.wrId());
      assertEquals((i % 2 == 0 ? p1[1] : p2[1]).qpNum(), recv.qpNum());
      assertEquals(WcStatus.SUCCESS, pollOne(cqA).status());
    }
    // 6 posted, 4 taken: the count fell below 3 once (at the 4th); the event came exactly once and disarmed.
    AsyncEvent e = events.receiveMessage();
    assertEquals(AsyncEventType.SRQ_LIMIT_REACHED, e.type());
    // No fence exists for "not a second time": the SRQ's handler gets only SRQ events, and nothing the API
    // offers is ordered after a late duplicate of this one, so this stays a (short) quiet period.
    events.expectNoMessage(java.time.Duration.ofMillis(100));
    assertEquals(0, srq.query().srqLimit());
    // Receives on an SRQ-attached QP go to the SRQ.
    PostException x = assertThrows(PostException.class, () -> p1[1].postRecv(RecvWr.of(1, Sge.of(dst, 0, 8))));
    assertEquals(PostException.Reason.INVALID, x.reason());
    // Destroying the SRQ while QPs are attached is refused.
    ExecutionException busy = assertThrows(ExecutionException.class, () -> await(srq.destroy()));
    assertTrue(busy.getCause() instanceof ResourceBusyException, busy.getCause().toString());
    await(p1[1].destroy());
    await(p2[1].destroy());
    await(srq.destroy());
  }

  @Test
  @DisplayName("drainQp on ACTOR CQs: every outstanding WR is reported before the drain completes")
  void drainQpReportsEverythingFirst() throws Exception {
    CompletionQueue cqA = await(a.allocCq(64, PollContext.ACTOR));
    CompletionQueue cqB = await(b.allocCq(64, PollContext.ACTOR));
    ConcurrentLinkedQueue<WorkCompletion> seen = new ConcurrentLinkedQueue<>();
    Cqe record = (cq, wc) -> seen.add(wc);
    QpCap cap = new QpCap(32, 32, 1, 1, 0);
    QueuePair qa = await(pdA.createQp(QpInitAttr.of(QpType.RC, cqA, cap)));
    QueuePair qb = await(pdB.createQp(QpInitAttr.of(QpType.RC, cqB, cap)));
    // No receives at qb and RNR retry forever: the sends stay outstanding until the drain flushes them.
    await(QpConnect.connect(qa, ConformanceFixture.path(b, 1), qb.qpNum(), 1, 2, QpConnect.Params.defaults()));
    await(QpConnect.connect(qb, ConformanceFixture.path(a, 1), qa.qpNum(), 2, 1, QpConnect.Params.defaults()));
    MemoryRegion buf = await(pdA.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE));
    for (int i = 0; i < 5; i++) {
      qa.postSend(SendWr.builder(dev.midlayer.ib.WrOpcode.SEND).wrId(i).cqe(record).sge(Sge.of(buf, 0, 8)).build());
    }
    for (int i = 0; i < 3; i++) {
      qa.postRecv(new RecvWr(10 + i, record, List.of(Sge.of(buf, 0, 64))));
    }
    await(qa.drainQp());
    assertEquals(QpState.ERR, qa.state());
    List<WorkCompletion> all = List.copyOf(seen);
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 10L, 11L, 12L), all.stream().map(WorkCompletion::wrId).toList());
    assertTrue(all.stream().allMatch(wc -> wc.status() == WcStatus.WR_FLUSH_ERR), all.toString());
    await(qa.destroy());
  }

  @Test
  @DisplayName("drainSq on a DIRECT CQ polls it itself; a CQ from createCq cannot be drained")
  void drainOnDirectCqAndRefusalOnLegacyCq() throws Exception {
    CompletionQueue direct = await(a.allocCq(64, PollContext.DIRECT));
    QueuePair qp = await(pdA.createQp(QpInitAttr.of(QpType.UD, direct, new QpCap(8, 8, 1, 1, 0))));
    await(QpConnect.ud(qp, 1, 0x1234, 0));
    // The drain polls the CQ in the consumer's stead: the other completions' callbacks run too.
    java.util.concurrent.atomic.AtomicInteger flushed = new java.util.concurrent.atomic.AtomicInteger();
    for (int i = 0; i < 4; i++) {
      qp.postRecv(RecvWr.of((cq, wc) -> {
        if (wc.status() == dev.midlayer.ib.WcStatus.WR_FLUSH_ERR) {
          flushed.incrementAndGet();
        }
      }));
    }
    await(qp.drainQp());
    assertEquals(QpState.ERR, qp.state());
    assertEquals(4, flushed.get(), "each receive's flush completion was processed by the drain");

    CompletionQueue legacy = await(a.createCq(8, null, null, null));
    QueuePair other = await(pdA.createQp(QpInitAttr.of(QpType.UD, legacy, new QpCap(8, 8, 1, 1, 0))));
    await(QpConnect.ud(other, 1, 0x1234, 0));
    InvalidArgumentException x = assertThrows(InvalidArgumentException.class, other::drainSq);
    assertEquals("sendCq", x.field());
  }
}
