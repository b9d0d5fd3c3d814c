package dev.midlayer.drivers.loopback;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.Spawner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The loopback driver's side of one QP: forwards doorbells and state changes to the QP's actor
 * ({@link QpActor}), and finds the connected peer's actor on the fabric.
 *
 * <p>Threading: {@link #sendDoorbell()} and {@link #flushDoorbell()} are called from posting threads and
 * only tell the actor; the others run on the device actor.
 */
final class LoopbackQp implements DriverQp {
  private final QpContext qp;
  private final LoopbackDevice device;
  private ActorRef<QpActor.Command> actor;
  /** The connected peer (RC, UC), found on first use after every change of the path. */
  private volatile QpActor.Peer peer;
  /**
   * Odd while the QP's actor runs a step that may copy registered memory (a delivery, a send-queue drain);
   * bumped on entry and exit. The memory fence waits for odd values to move on. Written only by the actor.
   */
  private volatile long transferEpoch;
  private int transferDepth; // actor only: steps nest (a drain inside an ACK's handling)
  /** Set when the midlayer destroys the QP: a peer's cached route to it is then stale. */
  private volatile boolean destroyed;

  private LoopbackQp(QpContext qp, LoopbackDevice device) {
    this.qp = qp;
    this.device = device;
  }

  static LoopbackQp create(QpContext qp, LoopbackDevice device, Spawner spawner, double timerScale, int maxBatch) {
    LoopbackQp lq = new LoopbackQp(qp, device);
    lq.actor = spawner.spawn(QpActor.create(lq, timerScale, maxBatch), "qp-" + qp.qpNum());
    return lq;
  }

  QpContext qp() {
    return qp;
  }

  /** The actor enters a step that may copy memory. Actor only. */
  void transferBegin() {
    if (transferDepth++ == 0) {
      transferEpoch++;
    }
  }

  /** The actor leaves that step. Actor only. */
  void transferEnd() {
    if (--transferDepth == 0) {
      transferEpoch++;
    }
  }

  /** The transfer epoch (odd: a step that may copy is running). Any thread. */
  long transferEpoch() {
    return transferEpoch;
  }

  LoopbackDevice device() {
    return device;
  }

  @Override
  public ActorRef<QpActor.Command> actor() {
    return actor;
  }

  @Override
  public void sendDoorbell() {
    actor.tell(QpActor.Signal.SQ_DOORBELL);
  }

  @Override
  public void flushDoorbell() {
    actor.tell(QpActor.Signal.FLUSH);
  }

  @Override
  public CompletionStage<Done> modified(QpState from, QpState to, QpAttr attr, int mask) {
    if ((mask & (QpAttrMask.AV | QpAttrMask.DEST_QPN)) != 0) {
      peer = null;
    }
    CompletableFuture<Done> applied = new CompletableFuture<>();
    actor.tell(new QpActor.Modified(from, to, applied));
    return applied;
  }

  /** Every opcode of {@link WrOpcode}: sends, RDMA WRITE/READ, atomics, invalidation and fast registration. */
  @Override
  public boolean supports(WrOpcode opcode) {
    return true;
  }

  /**
   * The device raised DEVICE_FATAL: the QP moves to ERR (unless it is in RESET or already in ERR) and its actor
   * flushes it in its next turn. Never blocks; any thread.
   */
  void deviceFatal() {
    if (qp.moveToError()) {
      actor.tell(QpActor.Signal.DEVICE_FATAL);
    }
  }

  @Override
  public void destroy() {
    destroyed = true;
    actor.tell(QpActor.Signal.STOP);
  }

  /**
   * The actor of the QP this one is connected to (its AV and DEST_QPN), or null if there is none (no
   * such device or QP on the fabric, or not a loopback QP). Lock-free; cached until the peer is destroyed.
   */
  QpActor.Peer resolvePeer() {
    QpActor.Peer p = peer;
    // One volatile read per use, not a lookup in the device's QP table for every send.
    if (p != null && !p.driver().destroyed) {
      return p;
    }
    QpAttr a = qp.attributes();
    AhAttr av = a.ahAttr();
    if (av == null) {
      return null;
    }
    LoopbackDevice dest = device.fabric().route(av);
    if (dest == null || dest.driverDevice() == null) {
      return null;
    }
    QpContext target = dest.driverDevice().qp(a.destQpNum());
    if (target == null || target.type() != qp.type() || !(target.driver() instanceof LoopbackQp lq)) {
      return null;
    }
    p = new QpActor.Peer(lq.actor, target, lq, dest, dest.portOf(av));
    peer = p;
    return p;
  }
}
