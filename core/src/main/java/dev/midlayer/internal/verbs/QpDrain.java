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
import org.apache.pekko.Done;

/**
 * Internal API. {@code ib_drain_sq} / {@code ib_drain_rq}: move the QP to ERR, post a marker, and complete
 * once the marker's flush completion was processed, so every earlier WR has been reported. A drain never
 * waits forever: it fails with {@link dev.midlayer.cq.CqOverflowException} if the CQ refuses the marker's
 * completion, and with {@link dev.midlayer.verbs.ObjectDestroyedException} (or
 * {@link dev.midlayer.device.DeviceUnregisteredException}) if the QP is destroyed (or its device
 * unregistered) before the marker completed.
 */
final class QpDrain {
  /** How often a drain polls a DIRECT CQ for its marker. */
  private static final java.time.Duration POLL_INTERVAL = java.time.Duration.ofMillis(1);
  private QpDrain() {}

  static CompletionStage<Done> drainSq(QpImpl qp) {
    qp.device().mightSleep("drainSq");
    requirePollContext(qp.sendCq, "sendCq");
    DrainMarker marker = new DrainMarker("drainSq");
    SendWr wr = SendWr.builder(WrOpcode.SEND).cqe(marker).build();
    return QpModify.toError(qp, "drainSq").thenCompose(d -> {
      if (!qp.watchDrain(marker)) {
        return marker.done;
      }
      if (!qp.offerSend(new PostedSend(wr, 0, null, null, null), true, qp.device().monitor())) {
        qp.forgetDrain(marker);
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainSq: no room for the marker in the send queue of QP " + qp.qpNum));
      }
      if (qp.sq.ringDoorbell()) {
        qp.driver.sendDoorbell();
      }
      return awaitMarker(qp, qp.sendCq, marker);
    });
  }

  static CompletionStage<Done> drainRq(QpImpl qp) {
    qp.device().mightSleep("drainRq");
    if (qp.srq != null) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    requirePollContext(qp.recvCq, "recvCq");
    DrainMarker marker = new DrainMarker("drainRq");
    RecvWr wr = new RecvWr(0, marker, List.of());
    return QpModify.toError(qp, "drainRq").thenCompose(d -> {
      if (!qp.watchDrain(marker)) {
        return marker.done;
      }
      if (!qp.offerRecv(new PostedRecv(wr), qp.device().monitor())) {
        qp.forgetDrain(marker);
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainRq: no room for the marker in the receive queue of QP " + qp.qpNum));
      }
      qp.driver.flushDoorbell();
      return awaitMarker(qp, qp.recvCq, marker);
    });
  }

  private static void requirePollContext(CompletionQueue cq, String field) {
    if (cq.pollContext() == null) {
      throw new InvalidArgumentException(field, cq + " was made with createCq: draining needs a CQ from allocCq "
          + "(its completions carry a Cqe)");
    }
  }

  private static CompletionStage<Done> awaitMarker(QpImpl qp, CqImpl cq, DrainMarker marker) {
    marker.done.whenComplete((d, failure) -> qp.forgetDrain(marker));
    if (cq.pollContext() == PollContext.DIRECT) {
      pollUntil(cq, marker.done);
    }
    // The marker completes inside a done callback (atomic context): continue on another thread, so that
    // the caller's next step (drainRq after drainSq, destroy, ...) may sleep; and get there without starting
    // a thread in atomic context (the common pool would, on a cold start).
    return qp.device().leaveAtomic(marker.done);
  }

  /**
   * DIRECT CQs: poll in the drainer's stead every millisecond until the marker completed, on the midlayer's
   * callback dispatcher (the other completions' callbacks run there, as a CQ actor's do).
   */
  private static void pollUntil(CqImpl cq, CompletableFuture<Done> marker) {
    if (marker.isDone()) {
      return;
    }
    try {
      cq.processDirect(CompletionQueue.POLL_BATCH * 16);
    } catch (RuntimeException gone) {
      marker.completeExceptionally(gone); // the CQ was destroyed or its device unregistered
      return;
    }
    if (!marker.isDone()) {
      cq.device().onCallbackDispatcherAfter(POLL_INTERVAL, () -> pollUntil(cq, marker));
    }
  }
}
