package dev.midlayer.drivers.loopback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The CQ sizing rule: a CQ with at least as many entries as the queue depths that feed it never overflows,
 * because a work request's slot is free again only once its completion was polled (as on hardware), so
 * QUEUE_FULL bounds the completions waiting in the CQ.
 */
class CqSizingTest {
  private static final int DEPTH = 16;
  private static final int MESSAGES = 20_000;
  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("cq-sizing");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  @DisplayName("a CQ of maxSendWr + maxRecvWr entries never overflows under load: a poster that polls only "
      + "when QUEUE_FULL tells it to gets every completion, all successful")
  void cqSizedBySumOfQueueDepthsNeverOverflows() throws Exception {
    // Each side's QP completes sends and receives into one CQ of exactly 2 x DEPTH entries.
    DpFixture.Side a = f.side(2 * DEPTH, 64 * 1024, null);
    DpFixture.Side b = f.side(2 * DEPTH, 64 * 1024, null);
    QpCap cap = new QpCap(DEPTH, DEPTH, 1, 1, 0);
    DpFixture.createQp(a, QpType.RC, cap, true);
    DpFixture.createQp(b, QpType.RC, cap, true);
    DpFixture.connect(a, b);
    for (int i = 0; i < DEPTH; i++) {
      b.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 64L * i, 64)));
    }
    Thread receiver = new Thread(() -> receive(b), "receiver");
    receiver.start();
    WorkCompletion[] wcs = new WorkCompletion[64];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
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
      if (n == 0) {
        if (System.nanoTime() > deadline) {
          fail("only " + completed + " of " + MESSAGES + " sends completed");
        }
        Thread.onSpinWait();
      }
    }
    receiver.join(TimeUnit.SECONDS.toMillis(20));
    assertFalse(receiver.isAlive(), "the receiver got every message");
    assertFalse(a.cq.overflowed() || b.cq.overflowed(), "no CQ overflowed");
  }

  /** Reposts each receive as its completion is polled, slowly: only when 2 x DEPTH completions could be waiting. */
  private void receive(DpFixture.Side b) {
    WorkCompletion[] wcs = new WorkCompletion[64];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
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
      if (n == 0) {
        Thread.yield();
      }
    }
  }
}
