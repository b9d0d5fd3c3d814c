package dev.midlayer.internal.verbs;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.internal.cq.CqImpl;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;

/**
 * Internal API. {@code ib_drain_sq} / {@code ib_drain_rq}: move the QP to ERR, post a marker, and complete
 * once the marker's flush completion was processed, so every earlier WR has been reported.
 */
final class QpDrain {
  private QpDrain() {}

  static CompletionStage<Done> drainSq(QpImpl qp) {
    qp.device().contextChecker().mightSleep("drainSq");
    requirePollContext(qp.sendCq, "sendCq");
    CompletableFuture<Done> marker = new CompletableFuture<>();
    SendWr wr = SendWr.builder(WrOpcode.SEND).cqe((cq, wc) -> marker.complete(Done.getInstance())).build();
    return QpModify.toError(qp, "drainSq").thenCompose(d -> {
      if (!qp.sq.post(new PostedSend(wr, 0, null, null, null))) {
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainSq: no room for the marker in the send queue of QP " + qp.qpNum));
      }
      if (qp.sq.ringDoorbell()) {
        qp.driver.sendDoorbell();
      }
      return awaitMarker(qp.sendCq, marker);
    });
  }

  static CompletionStage<Done> drainRq(QpImpl qp) {
    qp.device().contextChecker().mightSleep("drainRq");
    if (qp.srq != null) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    requirePollContext(qp.recvCq, "recvCq");
    CompletableFuture<Done> marker = new CompletableFuture<>();
    RecvWr wr = new RecvWr(0, (cq, wc) -> marker.complete(Done.getInstance()), List.of());
    return QpModify.toError(qp, "drainRq").thenCompose(d -> {
      if (!qp.rq.post(new PostedRecv(wr))) {
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainRq: no room for the marker in the receive queue of QP " + qp.qpNum));
      }
      qp.driver.flushDoorbell();
      return awaitMarker(qp.recvCq, marker);
    });
  }

  private static void requirePollContext(CompletionQueue cq, String field) {
    if (cq.pollContext() == null) {
      throw new InvalidArgumentException(field, cq + " was made with createCq: draining needs a CQ from allocCq "
          + "(its completions carry a Cqe)");
    }
  }

  private static CompletionStage<Done> awaitMarker(CqImpl cq, CompletableFuture<Done> marker) {
    if (cq.pollContext() == PollContext.DIRECT) {
      pollUntil(cq, marker);
    }
    // The marker completes inside a done callback (atomic context): continue on another thread, so that
    // the caller's next step (drainRq after drainSq, destroy, ...) may sleep.
    return marker.thenApplyAsync(d -> d);
  }

  /** DIRECT CQs: poll in the drainer's stead every millisecond until the marker completed. */
  private static void pollUntil(CqImpl cq, CompletableFuture<Done> marker) {
    if (marker.isDone()) {
      return;
    }
    cq.processDirect(CompletionQueue.POLL_BATCH * 16);
    if (!marker.isDone()) {
      CompletableFuture.runAsync(() -> pollUntil(cq, marker),
          CompletableFuture.delayedExecutor(1, TimeUnit.MILLISECONDS));
    }
  }
}
