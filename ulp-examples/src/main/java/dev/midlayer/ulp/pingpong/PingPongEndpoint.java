package dev.midlayer.ulp.pingpong;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one side of a pingpong connection owns on a device: a PD, a CQ, an RC QP on it and one registered buffer.
 * Made with {@link #open} and released with {@link #close}, both of which <b>may sleep</b>: call them from a
 * client's {@code add} or {@code remove}, or a thread where blocking is allowed, never from a callback.
 */
final class PingPongEndpoint {
  private static final Logger log = LoggerFactory.getLogger(PingPongEndpoint.class);
  /** How long set-up and tear-down wait for each may-sleep verb. */
  static final Duration VERB_TIMEOUT = Duration.ofSeconds(10);

  final Device device;
  final ProtectionDomain pd;
  final CompletionQueue cq;
  final QueuePair qp;
  final MemoryRegion mr;
  private final Poller poller;
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();

  private PingPongEndpoint(Device device, ProtectionDomain pd, CompletionQueue cq, QueuePair qp, MemoryRegion mr,
      Poller poller) {
    this.device = device;
    this.pd = pd;
    this.cq = cq;
    this.qp = qp;
    this.mr = mr;
    this.poller = poller;
  }

  /**
   * Makes the resources: room for {@code sends} send and {@code receives} receive WRs (plus the drain's marker on
   * each queue), a buffer of {@code bufferBytes}, and with {@code busyPoll} a thread polling the CQ. If a step
   * fails, what was made is released and {@link PingPongException} names the step. <b>May sleep</b>.
   */
  static PingPongEndpoint open(Device device, int bufferBytes, int sends, int receives, boolean busyPoll) {
    ProtectionDomain pd = await(device.allocPd(), "allocPd on " + device.name());
    CompletionQueue cq = null;
    QueuePair qp = null;
    MemoryRegion mr = null;
    try {
      cq = await(device.allocCq(sends + receives + 2, busyPoll ? PollContext.DIRECT : PollContext.ACTOR),
          "allocCq on " + device.name());
      // Every WR signaled: the ping loop moves on completions, and each buffer is reused only after its own.
      qp = await(pd.createQp(QpInitAttr.builder(QpType.RC).cq(cq)
          .cap(QpCap.builder().maxSendWr(sends + 1).maxRecvWr(receives + 1).build())
          .signalAll(true)
          .build()), "createQp on " + device.name());
      mr = await(pd.registerMr(ByteBuffer.allocateDirect(bufferBytes), AccessFlags.LOCAL_WRITE),
          "registerMr of " + bufferBytes + " bytes on " + device.name());
      Poller poller = busyPoll ? Poller.start(cq, "pingpong-poll-" + device.name() + "-qp" + qp.qpNum()) : null;
      return new PingPongEndpoint(device, pd, cq, qp, mr, poller);
    } catch (RuntimeException e) {
      releaseQuietly(qp == null ? null : qp.destroy());
      releaseQuietly(mr == null ? null : mr.deregister());
      releaseQuietly(cq == null ? null : cq.destroy());
      releaseQuietly(pd.dealloc());
      throw e;
    }
  }

  /**
   * Drains the QP (every WR posted on it completes, the outstanding ones with WR_FLUSH_ERR, and their callbacks
   * run), then destroys the QP, the CQ, the buffer and the PD. The first call does it; a concurrent or later call
   * waits until it is done. <b>May sleep</b>; never from this endpoint's own callbacks.
   */
  void close() {
    if (!closing.compareAndSet(false, true)) {
      await(closed, "the close of QP " + qp.qpNum() + " on " + device.name());
      return;
    }
    try {
      if (poller != null) {
        poller.stop(); // a drain on a DIRECT CQ polls it itself
      }
      try {
        await(qp.drainQp(), "drainQp of QP " + qp.qpNum() + " on " + device.name());
      } catch (PingPongException e) {
        // A QP the CM never moved out of RESET has nothing to drain; destroy it all the same.
        log.debug("{}", e.getMessage());
      }
      await(qp.destroy(), "destroy of QP " + qp.qpNum() + " on " + device.name());
      await(cq.destroy(), "destroy of the CQ on " + device.name());
      await(mr.deregister(), "deregister of the buffer on " + device.name());
      await(pd.dealloc(), "dealloc of the PD on " + device.name());
    } finally {
      closed.complete(null);
    }
  }

  private static void releaseQuietly(CompletionStage<?> stage) {
    if (stage != null) {
      try {
        stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        log.debug("release after a failed set-up: {}", e.toString());
      }
    }
  }

  /** Waits for {@code stage}; a failure or time-out is a {@link PingPongException} naming {@code what}. May sleep. */
  static <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new PingPongException(what + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new PingPongException(what + " timed out after " + VERB_TIMEOUT.toSeconds() + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PingPongException(what + " was interrupted", e);
    }
  }
}
