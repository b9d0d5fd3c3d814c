package dev.midlayer.drivers.engine;

import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.Spawner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The driver side of one QP of a software driver: the QP's engine actor ({@link QpEngine}) and the link it sends
 * through. Forwards doorbells and state changes to the actor, and keeps the transfer epoch the driver's memory
 * fence waits on.
 *
 * <p>Threading: {@link #sendDoorbell()}, {@link #flushDoorbell()}, {@link #deviceFatal()},
 * {@link #transferEpoch()} and {@link #isDestroyed()} are safe from any thread and never block (they only tell
 * the actor or read a volatile); {@link #modified} and {@link #destroy()} run on the device actor.
 */
public final class EngineQp implements DriverQp {
  private final QpContext qp;
  private final EngineDevice device;
  private final Link link;
  private ActorRef<QpEngine.Command> actor;
  /**
   * Odd while the QP's actor runs a step that may copy registered memory (a delivery, a send-queue drain);
   * bumped on entry and exit. The memory fence waits for odd values to move on. Written only by the actor.
   */
  private volatile long transferEpoch;
  private int transferDepth; // actor only: steps nest (a drain inside an ACK's handling)
  /** Set when the midlayer destroys the QP: a peer's cached route to it is then stale. */
  private volatile boolean destroyed;
  /** The engine's transport counters: kept here so that they are readable from any thread, before and after. */
  final EngineCounters counters = new EngineCounters();
  /** What the driver undoes when the QP is destroyed (its inbound binding), or null. */
  private volatile Runnable onDestroy;

  private EngineQp(QpContext qp, EngineDevice device, Function<EngineQp, Link> links) {
    this.qp = qp;
    this.device = device;
    this.link = links.apply(this);
  }

  /**
   * Makes the driver side of {@code qp}: its link (from {@code links}) and its engine actor, spawned with
   * {@code spawner} (the midlayer's supervision and data-path dispatcher). Called from the driver's
   * {@code createQp}; may sleep only as that does (it does not).
   */
  public static EngineQp create(QpContext qp, EngineDevice device, Spawner spawner, EngineSettings settings,
      Function<EngineQp, Link> links) {
    EngineQp eq = new EngineQp(qp, device, links);
    eq.actor = spawner.spawn(QpEngine.create(eq, settings), "qp-" + qp.qpNum());
    return eq;
  }

  /** The midlayer's side of the QP. */
  public QpContext qp() {
    return qp;
  }

  /** The device the QP is on, as the engine sees it. */
  public EngineDevice device() {
    return device;
  }

  Link link() {
    return link;
  }

  /** The engine actor; a link delivers {@link QpEngine.Inbound} messages to it. */
  @Override
  public ActorRef<QpEngine.Command> actor() {
    return actor;
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

  /**
   * The memory fence's wait on the engine: returns once every engine QP of {@code device} that was inside a step
   * that may copy registered memory when the call began (a responder placing a WRITE, a requester reading a
   * source) has left it. A step that begins later resolves keys that already stopped working (the midlayer
   * fences after invalidating). <b>May sleep</b> (parks briefly, for as long as a step's copy takes); the device
   * actor, from the driver's memory fence. A null device (not enabled yet) has nothing to wait for.
   */
  public static void awaitTransfers(dev.midlayer.spi.DriverDevice device) {
    if (device == null) {
      return;
    }
    for (QpContext qp : device.qps()) {
      if (qp.driver() instanceof EngineQp eq) {
        long epoch = eq.transferEpoch();
        long pause = 1_000;
        while ((epoch & 1) != 0 && eq.transferEpoch() == epoch) {
          java.util.concurrent.locks.LockSupport.parkNanos(pause);
          pause = Math.min(pause * 2, 100_000);
        }
      }
    }
  }

  /** The transfer epoch (odd: a step that may copy is running). Any thread; never blocks. */
  public long transferEpoch() {
    return transferEpoch;
  }

  /** True once the midlayer destroyed the QP. Any thread; never blocks. */
  public boolean isDestroyed() {
    return destroyed;
  }

  @Override
  public void sendDoorbell() {
    actor.tell(QpEngine.Signal.SQ_DOORBELL);
  }

  @Override
  public void flushDoorbell() {
    actor.tell(QpEngine.Signal.FLUSH);
  }

  @Override
  public CompletionStage<Done> modified(QpState from, QpState to, QpAttr attr, int mask) {
    if ((mask & (QpAttrMask.AV | QpAttrMask.DEST_QPN)) != 0) {
      link.pathChanged();
    }
    CompletableFuture<Done> applied = new CompletableFuture<>();
    actor.tell(new QpEngine.Modified(from, to, applied));
    return applied;
  }

  /** The engine's counters now. Any thread; never blocks. */
  @Override
  public TransportCounters counters() {
    return counters.snapshot();
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
  public void deviceFatal() {
    if (qp.moveToError()) {
      actor.tell(QpEngine.Signal.DEVICE_FATAL);
    }
  }

  /** Runs {@code r} when the midlayer destroys the QP (on the device actor): for the driver's own cleanup. */
  public void whenDestroyed(Runnable r) {
    this.onDestroy = r;
  }

  @Override
  public void destroy() {
    destroyed = true;
    Runnable r = onDestroy;
    if (r != null) {
      r.run();
    }
    actor.tell(QpEngine.Signal.STOP);
  }
}
