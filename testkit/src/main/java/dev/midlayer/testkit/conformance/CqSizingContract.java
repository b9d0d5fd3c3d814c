package dev.midlayer.testkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * CQ sizing: a CQ with as many entries as the queue depths that feed it never overflows, because a work
 * request's slot is free again only once its completion was polled, so QUEUE_FULL bounds what waits in the CQ;
 * and a CQ smaller than that does overflow, with CQ_ERR, QP_FATAL and the QP in ERR.
 *
 * <p>Seed rules: C1/C2 (QUEUE_FULL is an immediate error of the post, never a wait), C3 (CQ_ERR and QP_FATAL are
 * delivered as affiliated events). IB spec: IBA vol. 1 §10.2.6 (a CQ must be sized for the WQEs that feed it),
 * §11.6.2 (CQ overrun: CQ error, the affiliated QPs to ERR), §11.6.3 (affiliated asynchronous errors).
 *
 * <p>Test methods run on JUnit's thread, and the receiver thread of the sizing test is the test's own (no
 * callback).
 */
public abstract class CqSizingContract extends DriverContract {
  private static final int DEPTH = 16;
  private static final int MESSAGES = 20_000;

  @Test
  @DisplayName("a CQ of maxSendWr + maxRecvWr entries never overflows under load: a poster that polls only when "
      + "QUEUE_FULL tells it to gets every completion, all successful")
  void cqSizedBySumOfQueueDepthsNeverOverflows() throws Exception {
    ConformanceFixture.Side a = f.side(2 * DEPTH, 64 * 1024, null);
    ConformanceFixture.Side b = f.side(2 * DEPTH, 64 * 1024, null);
    QpCap cap = new QpCap(DEPTH, DEPTH, 1, 1, 0);
    ConformanceFixture.createQp(a, QpType.RC, cap, true);
    ConformanceFixture.createQp(b, QpType.RC, cap, true);
    ConformanceFixture.connect(a, b);
    for (int i = 0; i < DEPTH; i++) {
      b.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 64L * i, 64)));
    }
    Thread receiver = new Thread(() -> receive(b), "receiver");
    receiver.start();
    WorkCompletion[] wcs = new WorkCompletion[64];
    // A stall fails the test, not a slow run: the deadline moves on with every completion (20,000 round trips
    // across two JVMs' worth of actors on a loaded 2-core machine take from 9 s to well over 20 s).
    long stall = TimeUnit.MILLISECONDS.toNanos(ConformanceFixture.DEADLINE_MS);
    long deadline = System.nanoTime() + stall;
    int sent = 0;
    int completed = 0;
    while (completed < MESSAGES) {
      if (a.cq.overflowed()) {
        fail("the sender's CQ of " + a.cq.capacity() + " entries overflowed after " + completed + " completions");
      }
      if (sent < MESSAGES) {
        try {
          a.qp.postSend(SendWr.send(sent, SendFlags.SIGNALED, Sge.of(a.mr, 0, 64)));
          sent++;
          continue;
        } catch (PostException e) {
          assertEquals(PostException.Reason.QUEUE_FULL, e.reason(), e.getMessage());
        }
      }
      // Only now, told by QUEUE_FULL (or with nothing left to send), take completions.
      int n = a.cq.poll(wcs);
      for (int i = 0; i < n; i++) {
        assertEquals(WcStatus.SUCCESS, wcs[i].status(), wcs[i].toString());
      }
      completed += n;
      if (n > 0) {
        deadline = System.nanoTime() + stall;
      } else {
        if (System.nanoTime() > deadline) {
          fail("only " + completed + " of " + MESSAGES + " sends completed, none for "
              + ConformanceFixture.DEADLINE_MS + " ms");
        }
        Thread.onSpinWait();
      }
    }
    receiver.join(2 * ConformanceFixture.DEADLINE_MS);
    assertFalse(receiver.isAlive(), "the receiver got every message");
    assertFalse(a.cq.overflowed() || b.cq.overflowed(), "no CQ overflowed");
  }

  /** Reposts each receive as its completion is polled: up to 2 x DEPTH completions may wait in the CQ. */
  private static void receive(ConformanceFixture.Side b) {
    WorkCompletion[] wcs = new WorkCompletion[64];
    long stall = TimeUnit.MILLISECONDS.toNanos(ConformanceFixture.DEADLINE_MS);
    long deadline = System.nanoTime() + stall;
    int got = 0;
    while (got < MESSAGES && System.nanoTime() < deadline && !b.cq.overflowed()) {
      int n = b.cq.poll(wcs);
      for (int i = 0; i < n; i++) {
        if (wcs[i].status() != WcStatus.SUCCESS) {
          return;
        }
        b.qp.postRecv(RecvWr.of(wcs[i].wrId(), Sge.of(b.mr, 64L * (wcs[i].wrId() % DEPTH), 64)));
      }
      got += n;
      if (n > 0) {
        deadline = System.nanoTime() + stall;
      } else {
        Thread.yield();
      }
    }
  }

  @Test
  @DisplayName("a CQ smaller than the queues feeding it overflows: CQ_ERR, QP_FATAL, and the QP goes to ERR; the "
      + "peer is not affected")
  void undersizedCqOverflows() throws Exception {
    ConcurrentLinkedQueue<AsyncEvent> events = new ConcurrentLinkedQueue<>();
    var dev = f.addDevice();
    var pd = ConformanceFixture.await(dev.allocPd());
    CompletionQueue cq = ConformanceFixture.await(dev.createCq(2, null, events::add, null)); // 2 for a queue of 16
    var mr = ConformanceFixture.await(pd.registerMr(java.nio.ByteBuffer.allocateDirect(4096),
        AccessFlags.LOCAL_WRITE));
    ConformanceFixture.Side a = new ConformanceFixture.Side(dev, pd, cq, mr);
    a.qp = ConformanceFixture.await(pd.createQp(new QpInitAttr(QpType.RC, cq, cq, new QpCap(16, 16, 1, 1, 0), true,
        events::add, null)));
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(b, QpType.RC, new QpCap(16, 16, 1, 1, 0), true);
    ConformanceFixture.connect(a, b);
    for (int i = 0; i < 8; i++) {
      b.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 64L * i, 64)));
      a.qp.postSend(SendWr.send(i, SendFlags.SIGNALED, Sge.of(a.mr, 0, 8))); // nobody polls a's CQ
    }
    ConformanceFixture.awaitTrue(() -> "a's CQ to overflow", cq::overflowed);
    ConformanceFixture.awaitTrue(() -> "CQ_ERR and QP_FATAL: " + events,
        () -> count(events, AsyncEventType.CQ_ERR) == 1 && count(events, AsyncEventType.QP_FATAL) >= 1);
    ConformanceFixture.awaitState(a.qp, QpState.ERR);
    assertEquals(QpState.RTS, b.qp.state(), "the peer is not affected");
  }

  private static long count(ConcurrentLinkedQueue<AsyncEvent> events, AsyncEventType type) {
    return events.stream().filter(e -> e.type() == type).count();
  }
}
