package dev.midlayer.ulp.echo;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ulp.datagram.DatagramAddress;
import dev.midlayer.verbs.AhFromWc;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * The verbs objects of one device's echo service: a PD, a CQ polled by its actor, a UD QP on port 1 and one
 * registered buffer of {@code receives} receive slots (a GRH and a path MTU each) followed by {@code sends} send
 * slots (a path MTU each). Made and released by chains of stages, so the {@link UdEcho} actor that owns it never
 * waits for a verb: it hears of the result as a message.
 */
record EchoEndpoint(Device device, ProtectionDomain pd, CompletionQueue cq, QueuePair qp, MemoryRegion mr,
    int receives, int sends, int mtu) {

  /** The bytes of one receive slot: the GRH a UD receive starts with, then the payload. */
  int recvSlot() {
    return AhFromWc.GRH_BYTES + mtu;
  }

  /** Where receive slot {@code k} starts in the buffer. */
  int recvOffset(int k) {
    return k * recvSlot();
  }

  /** Where send slot {@code s} starts in the buffer. */
  int sendOffset(int s) {
    return receives * recvSlot() + s * mtu;
  }

  /** This endpoint's address, for peers. Never blocks. */
  DatagramAddress address() {
    return new DatagramAddress(device.cachedPort(1).gids().get(0), device.cachedPort(1).lid(), qp.qpNum());
  }

  /**
   * Makes the objects on port 1 of {@code device} with Q_Key {@code qkey}; the QP is in RTS and no receive is
   * posted yet. If a step fails, what was made is released and the stage fails with the step's error. Never
   * blocks: every verb here returns a stage.
   */
  static CompletionStage<EchoEndpoint> open(Device device, int qkey, int receives, int sends) {
    int mtu = device.cachedPort(1).activeMtu().bytes();
    Made made = new Made();
    return device.allocPd()
        .thenCompose(pd -> {
          made.pd = pd;
          return device.allocCq(receives + sends + 2, PollContext.ACTOR);
        })
        .thenCompose(cq -> {
          made.cq = cq;
          return made.pd.createQp(QpInitAttr.builder(QpType.UD).cq(cq)
              .cap(QpCap.builder().maxSendWr(sends + 1).maxRecvWr(receives + 1).build())
              .build());
        })
        .thenCompose(qp -> {
          made.qp = qp;
          return QpConnect.ud(qp, 1, qkey, 0);
        })
        .thenCompose(rts -> made.pd.registerMr(
            ByteBuffer.allocateDirect(receives * (AhFromWc.GRH_BYTES + mtu) + sends * mtu), AccessFlags.LOCAL_WRITE))
        .thenApply(mr -> new EchoEndpoint(device, made.pd, made.cq, made.qp, mr, receives, sends, mtu))
        .handle((ep, e) -> ep != null ? CompletableFuture.completedStage(ep)
            : made.release().<EchoEndpoint>thenCompose(d -> CompletableFuture.failedStage(unwrap(e))))
        .thenCompose(s -> s);
  }

  /**
   * Destroys the QP, the buffer's registration, the CQ and the PD, in that order (the QP first: the CQ and
   * the PD are in use while it exists). Call it once the QP is drained: a WR outstanding at destroy vanishes
   * without a completion. Never blocks.
   */
  CompletionStage<Done> close() {
    return qp.destroy()
        .thenCompose(d -> mr.deregister())
        .thenCompose(d -> cq.destroy())
        .thenCompose(d -> pd.dealloc());
  }

  private static Throwable unwrap(Throwable e) {
    return e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
  }

  /** What a failed {@link #open} had made; each field is set by one step, read after the chain failed. */
  private static final class Made {
    volatile ProtectionDomain pd;
    volatile CompletionQueue cq;
    volatile QueuePair qp;

    /** Releases in reverse order of making; a release that fails does not stop the next. */
    CompletionStage<Done> release() {
      CompletionStage<Done> s = CompletableFuture.completedStage(Done.getInstance());
      if (qp != null) {
        s = s.thenCompose(d -> qp.destroy()).exceptionally(e -> Done.getInstance());
      }
      if (cq != null) {
        s = s.thenCompose(d -> cq.destroy()).exceptionally(e -> Done.getInstance());
      }
      if (pd != null) {
        s = s.thenCompose(d -> pd.dealloc()).exceptionally(e -> Done.getInstance());
      }
      return s;
    }
  }
}
