package dev.midlayer.ulp.kv;

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

/**
 * One side of a key-value connection: a CQ its actor polls, an RC QP in the given PD (the server's connections
 * share the device's PD, which the table is registered in), and a buffer. {@link #open} and {@link #close}
 * <b>may sleep</b>.
 */
final class KvEndpoint {
  static final Duration VERB_TIMEOUT = Duration.ofSeconds(10);

  final Device device;
  final CompletionQueue cq;
  final QueuePair qp;
  /** The buffer; set by {@link #open} or, once its size is known, by {@link #registerBuffer}. */
  MemoryRegion mr;
  private final ProtectionDomain pd;
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();

  private KvEndpoint(Device device, ProtectionDomain pd, CompletionQueue cq, QueuePair qp) {
    this.device = device;
    this.pd = pd;
    this.cq = cq;
    this.qp = qp;
  }

  /**
   * Room for {@code sends} and {@code receives} WRs (and a drain's markers), and a buffer of {@code bytes} (0: none
   * yet, see {@link #registerBuffer}).
   */
  static KvEndpoint open(Device device, ProtectionDomain pd, int sends, int receives, int bytes) {
    CompletionQueue cq = await(device.allocCq(sends + receives + 2, PollContext.ACTOR), "allocCq on " + device.name());
    QueuePair qp = null;
    try {
      qp = await(pd.createQp(QpInitAttr.builder(QpType.RC).cq(cq)
          .cap(QpCap.builder().maxSendWr(sends + 1).maxRecvWr(receives + 1).build())
          .signalAll(true)
          .build()), "createQp on " + device.name());
      KvEndpoint ep = new KvEndpoint(device, pd, cq, qp);
      if (bytes > 0) {
        ep.registerBuffer(bytes);
      }
      return ep;
    } catch (RuntimeException e) {
      if (qp != null) {
        quietly(qp.destroy());
      }
      quietly(cq.destroy());
      throw e;
    }
  }

  /** Registers the endpoint's buffer of {@code bytes}, before any WR uses it. <b>May sleep</b>. */
  void registerBuffer(int bytes) {
    mr = await(pd.registerMr(ByteBuffer.allocateDirect(bytes), AccessFlags.LOCAL_WRITE),
        "registerMr of " + bytes + " bytes on " + device.name());
  }

  /** Drains the QP (every posted WR completes), destroys it, the CQ and the buffer; once. <b>May sleep</b>. */
  void close() {
    if (!closing.compareAndSet(false, true)) {
      await(closed, "the close of QP " + qp.qpNum());
      return;
    }
    try {
      try {
        await(qp.drainQp(), "drainQp of QP " + qp.qpNum() + " on " + device.name());
      } catch (KvException e) {
        // a QP the CM never moved out of RESET has nothing to drain
      }
      await(qp.destroy(), "destroy of QP " + qp.qpNum() + " on " + device.name());
      await(cq.destroy(), "destroy of the CQ on " + device.name());
      if (mr != null) {
        await(mr.deregister(), "deregister of the buffer on " + device.name());
      }
    } finally {
      closed.complete(null);
    }
  }

  private static void quietly(CompletionStage<?> stage) {
    try {
      stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // releasing after a failed set-up: best effort
    }
  }

  /** Waits for {@code stage}; a failure or time-out is a {@link KvException} naming {@code what}. May sleep. */
  static <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new KvException(what + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new KvException(what + " timed out after " + VERB_TIMEOUT.toSeconds() + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KvException(what + " was interrupted", e);
    }
  }
}
