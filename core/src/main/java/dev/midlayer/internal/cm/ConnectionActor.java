package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmParams;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionRejectedException;
import dev.midlayer.cm.RejectReason;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpType;
import dev.midlayer.internal.LogMdc;
import dev.midlayer.internal.Replies;
import dev.midlayer.verbs.QueuePair;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Internal API. One side of one connection, a behaviour per IB CM state (IBTA vol. 1, §12.9, figure 154; Linux
 * {@code cm.c}'s {@code IB_CM_*} states):
 *
 * <pre>
 * active:  starting (RESET→INIT) → reqSent → (REP: INIT→RTR→RTS, RTU) → established
 * passive: awaitingAnswer (ConnectRequest delivered) → (accept: →INIT→RTR→RTS, REP) → repSent → (RTU) → established
 * both:    established → (disconnect: ERR, DREQ) dreqSent → (DREP) timewait → stopped
 *          established → (DREQ: ERR, DREP) timewait → stopped
 * </pre>
 *
 * While a QP transition is being applied ({@link #applying}) every other message is stashed, so the state
 * machine only sees the QP in the state it asked for. Timers resend REQ, REP and DREQ every
 * {@code retry-interval} and give up after {@code connect-timeout} / {@code disconnect-timeout}.
 */
final class ConnectionActor {
  sealed interface Cmd {}

  /** A CM message for this connection, routed here by the {@link CmActor}. */
  record Incoming(CmProtocol.Mad mad) implements Cmd {}

  record Accept(QueuePair qp, byte[] privateData, CmEventSink sink, CompletableFuture<CmConnection> result)
      implements Cmd {}

  record Reject(byte[] privateData) implements Cmd {}

  record Disconnect(byte[] privateData, CompletableFuture<Done> result) implements Cmd {}

  /** The connection's device is being unregistered; complete {@code done} when the QP is in ERR. */
  record DeviceGone(CompletableFuture<Done> done) implements Cmd {}

  private record Applied(Throwable failure) implements Cmd {}

  private enum Tick implements Cmd { RESEND, TIMEOUT, TIMEWAIT_OVER, LINGER_OVER }

  private final CmContext cm;
  private final ConnectionImpl conn;
  private final ActorContext<Cmd> ctx;
  private final TimerScheduler<Cmd> timers;
  private final StashBuffer<Cmd> stash;
  private CmEventSink sink;
  private CompletableFuture<CmConnection> outcome;
  private final List<CompletableFuture<Done>> disconnects = new ArrayList<>();
  private QueuePair qp;
  private CmProtocol.Mad lastSent;
  private long remoteCommId;
  private RejectReason goneReason;
  // active side
  private CmProtocol.Req req;
  private ConnectOptions options;
  // passive side
  private CmProtocol.Req inReq;
  private byte[] repData;

  private ConnectionActor(CmContext cm, ConnectionImpl conn, ActorContext<Cmd> ctx, TimerScheduler<Cmd> timers,
      StashBuffer<Cmd> stash) {
    this.cm = cm;
    this.conn = conn;
    this.ctx = ctx;
    this.timers = timers;
    this.stash = stash;
    this.qp = conn.qp();
  }

  private static Behavior<Cmd> setup(CmContext cm, ConnectionImpl conn,
      Function<ConnectionActor, Behavior<Cmd>> first) {
    // The connection's device and port on every line it logs, and its QP once it has one (the passive side's
    // comes with the accept).
    return Behaviors.withMdc(Cmd.class, LogMdc.of(conn.device(), conn.port(), null),
        m -> conn.qp() == null ? Map.of() : Map.of(LogMdc.QP, String.valueOf(conn.qp().qpNum())),
        Behaviors.setup(ctx -> Behaviors.withTimers(timers -> Behaviors.withStash(1000, stash -> {
          ConnectionActor a = new ConnectionActor(cm, conn, ctx, timers, stash);
          return first.apply(a);
        }))));
  }

  /** The active side: {@code req} is the REQ to send once the QP is in INIT. */
  static Behavior<Cmd> active(CmContext cm, ConnectionImpl conn, CmProtocol.Req req, ConnectOptions options,
      CompletableFuture<CmConnection> result) {
    return setup(cm, conn, a -> {
      a.req = req;
      a.options = options;
      a.sink = options.events();
      a.outcome = result;
      return a.applying(CmQp.toInit(a.qp, conn.port()), failure -> failure == null ? a.sendReq()
          : a.failed(RejectReason.CONSUMER_REJECT, null, "the CM could not move " + a.qp + " to INIT: " + failure,
              false));
    });
  }

  /** The passive side of {@code req}, which came for {@code listener}: delivers the ConnectRequest. */
  static Behavior<Cmd> passive(CmContext cm, ConnectionImpl conn, CmProtocol.Req req, ListenerImpl listener) {
    return setup(cm, conn, a -> {
      a.inReq = req;
      a.remoteCommId = req.localCommId();
      a.sink = listener.sink;
      a.conn.remoteQpn = req.qpn();
      a.conn.remotePrivateData = req.privateData();
      RequestImpl request = new RequestImpl(a.ctx.getSelf(), listener.device(), req.uc() ? QpType.UC : QpType.RC,
          listener.sink);
      CmParams proposed = new CmParams(req.startPsn(), req.pathMtu(), req.responderResources(),
          req.initiatorDepth(), req.rnrRetryCount(), req.retryCount(), req.localAckTimeout());
      cm.callbacks().deliver(listener.sink, new CmEvent.ConnectRequest(listener, req.srcGid(), req.qpn(),
          req.privateData().clone(), proposed, request), request::rejectIfUnanswered);
      a.timers.startSingleTimer(Tick.TIMEOUT, Tick.TIMEOUT, cm.settings().connectTimeout());
      return a.awaitingAnswer();
    });
  }

  // ---- active ----

  private Behavior<Cmd> sendReq() {
    send(req);
    startRetries(cm.settings().connectTimeout());
    return reqSent();
  }

  private Behavior<Cmd> reqSent() {
    return Behaviors.receive(Cmd.class)
        .onMessage(Incoming.class, m -> {
          if (m.mad() instanceof CmProtocol.Rep rep) {
            return onRep(rep);
          } else if (m.mad() instanceof CmProtocol.Rej rej) {
            return failed(rej.reason(), rej.privateData(), "the passive side rejected", false);
          }
          return Behaviors.same();
        })
        .onMessage(Tick.class, t -> onTick(t, "REQ"))
        .onMessage(Disconnect.class, this::disconnectNotEstablished)
        .onMessage(DeviceGone.class, this::deviceGone)
        .build();
  }

  private Behavior<Cmd> onRep(CmProtocol.Rep rep) {
    timers.cancelAll();
    remoteCommId = rep.localCommId();
    conn.remoteQpn = rep.qpn();
    conn.remotePrivateData = rep.privateData();
    int maxRdAtomic = rep.responderResources();
    int maxDestRdAtomic = rep.initiatorDepth();
    conn.params = new CmParams(req.startPsn(), rep.pathMtu(), maxDestRdAtomic, maxRdAtomic, rep.rnrRetryCount(),
        options.retryCount(), options.localAckTimeout());
    AhAttr path = AhAttr.ofGid(conn.port(), conn.remoteGid);
    CompletionStage<Done> steps = CmQp.toRtr(qp, path, rep.qpn(), rep.startPsn(), rep.pathMtu(), maxDestRdAtomic,
        cm.settings().minRnrTimer())
        .thenCompose(d -> CmQp.toRts(qp, req.startPsn(), options.localAckTimeout(), options.retryCount(),
            rep.rnrRetryCount(), maxRdAtomic));
    return applying(steps, failure -> {
      if (failure != null) {
        send(rej(RejectReason.CONSUMER_REJECT));
        return failed(RejectReason.CONSUMER_REJECT, null, "the CM could not move " + qp + " to RTS: " + failure,
            false);
      }
      send(new CmProtocol.Rtu(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId,
          options.rtuPrivateData()));
      return established();
    });
  }

  // ---- passive ----

  private Behavior<Cmd> awaitingAnswer() {
    return Behaviors.receive(Cmd.class)
        .onMessage(Accept.class, this::onAccept)
        .onMessage(Reject.class, r -> {
          send(new CmProtocol.Rej(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId,
              RejectReason.CONSUMER_REJECT, r.privateData()));
          return finished(RejectReason.CONSUMER_REJECT);
        })
        .onMessage(Incoming.class, m -> m.mad() instanceof CmProtocol.Rej rej
            ? failed(rej.reason(), rej.privateData(), "the active side gave up", false)
            : Behaviors.same()) // a resent REQ: the consumer has it
        .onMessage(Tick.class, t -> onTick(t, "REQ"))
        .onMessage(Disconnect.class, this::disconnectNotEstablished)
        .onMessage(DeviceGone.class, this::deviceGone)
        .build();
  }

  private Behavior<Cmd> onAccept(Accept a) {
    qp = a.qp();
    conn.acceptedQp(qp);
    sink = a.sink();
    outcome = a.result();
    repData = a.privateData();
    CmProtocol.Req r = inReq;
    int responderResources = Math.min(r.initiatorDepth(), qp.device().attributes().maxQpRdAtom());
    int initiatorDepth = Math.min(r.responderResources(), qp.device().attributes().maxQpInitRdAtom());
    Mtu mtu = min(r.pathMtu(), qp.device().cachedPort(conn.port()).activeMtu());
    int startPsn = ConnectionManagerImpl.randomPsn();
    conn.params = new CmParams(startPsn, mtu, responderResources, initiatorDepth, r.rnrRetryCount(), r.retryCount(),
        r.localAckTimeout());
    // The passive side asks of the active side the RNR retry count the active side asked of it.
    CmProtocol.Rep rep = new CmProtocol.Rep(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId,
        qp.qpNum(), startPsn, mtu, responderResources, initiatorDepth, r.rnrRetryCount(), repData);
    AhAttr path = AhAttr.ofGid(conn.port(), conn.remoteGid);
    // Receives posted up to here are in place before the REP goes out: the QP is in RTR first. And in RTS, as
    // Linux's rdma_cm has it (cma_accept_ib: RTR, RTS, then the REP): the active side may send as soon as it sent
    // the RTU, and its first SEND can arrive before the RTU does; the answer must not wait for the RTU.
    CmParams p = conn.params;
    CompletionStage<Done> steps = CmQp.toInit(qp, conn.port())
        .thenCompose(d -> CmQp.toRtr(qp, path, r.qpn(), r.startPsn(), mtu, responderResources,
            cm.settings().minRnrTimer()))
        .thenCompose(d -> CmQp.toRts(qp, p.startPsn(), p.localAckTimeout(), p.retryCount(), p.rnrRetryCount(),
            p.initiatorDepth()));
    return applying(steps, failure -> {
      if (failure != null) {
        send(rej(RejectReason.CONSUMER_REJECT));
        return failed(RejectReason.CONSUMER_REJECT, null, "the CM could not move " + qp + " to RTS: " + failure,
            false);
      }
      timers.cancelAll();
      send(rep);
      startRetries(cm.settings().connectTimeout());
      return repSent();
    });
  }

  private Behavior<Cmd> repSent() {
    return Behaviors.receive(Cmd.class)
        .onMessage(Incoming.class, m -> {
          if (m.mad() instanceof CmProtocol.Rtu) {
            timers.cancelAll();
            return established(); // the QP went to RTS before the REP
          } else if (m.mad() instanceof CmProtocol.Rej rej) {
            return failed(rej.reason(), rej.privateData(), "the active side rejected the REP", false);
          } else if (m.mad() instanceof CmProtocol.Req) {
            send(lastSent); // the REP was lost
          } else if (m.mad() instanceof CmProtocol.Dreq dreq) {
            return onDreq(dreq);
          }
          return Behaviors.same();
        })
        .onMessage(Tick.class, t -> onTick(t, "REP"))
        .onMessage(Disconnect.class, this::disconnectNotEstablished)
        .onMessage(DeviceGone.class, this::deviceGone)
        .build();
  }

  // ---- both ----

  private Behavior<Cmd> established() {
    CompletableFuture<CmConnection> f = outcome;
    outcome = null;
    cm.callbacks().deliver(sink, new CmEvent.Established(conn));
    if (f != null) {
      Replies.complete(cm.replies(), f, conn);
    }
    return Behaviors.receive(Cmd.class)
        .onMessage(Incoming.class, m -> {
          if (m.mad() instanceof CmProtocol.Dreq dreq) {
            return onDreq(dreq);
          } else if (m.mad() instanceof CmProtocol.Rep && lastSent instanceof CmProtocol.Rtu) {
            send(lastSent); // the RTU was lost
          }
          return Behaviors.same();
        })
        .onMessage(Disconnect.class, d -> {
          disconnects.add(d.result());
          timers.cancelAll();
          // ERR first, so this side's outstanding work requests flush; then the peer is asked to do the same.
          return applying(CmQp.toErr(qp), x -> {
            send(new CmProtocol.Dreq(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId,
                d.privateData()));
            startRetries(cm.settings().disconnectTimeout());
            return dreqSent();
          });
        })
        .onMessage(DeviceGone.class, this::deviceGone)
        .onMessage(Tick.class, t -> Behaviors.same())
        .build();
  }

  private Behavior<Cmd> onDreq(CmProtocol.Dreq dreq) {
    timers.cancelAll();
    return applying(CmQp.toErr(qp), failure -> {
      send(drep());
      cm.callbacks().deliver(sink, new CmEvent.Disconnected(conn, dreq.privateData().clone()));
      return timewait();
    });
  }

  private Behavior<Cmd> dreqSent() {
    return Behaviors.receive(Cmd.class)
        .onMessage(Incoming.class, m -> {
          if (m.mad() instanceof CmProtocol.Drep drep) {
            return disconnected(drep.privateData());
          } else if (m.mad() instanceof CmProtocol.Dreq dreq) {
            send(drep()); // both sides disconnected at once: each DREQ answers the other
            return disconnected(dreq.privateData());
          }
          return Behaviors.same();
        })
        .onMessage(Tick.class, t -> {
          if (t == Tick.RESEND) {
            send(lastSent);
            return Behaviors.same();
          }
          return t == Tick.TIMEOUT ? disconnected(new byte[0]) : Behaviors.same();
        })
        .onMessage(Disconnect.class, d -> {
          disconnects.add(d.result());
          return Behaviors.same();
        })
        .onMessage(DeviceGone.class, this::deviceGone)
        .build();
  }

  private Behavior<Cmd> disconnected(byte[] peerData) {
    timers.cancelAll();
    cm.callbacks().deliver(sink, new CmEvent.Disconnected(conn, peerData.clone()));
    return timewait();
  }

  private Behavior<Cmd> timewait() {
    completeDisconnects();
    timers.startSingleTimer(Tick.TIMEWAIT_OVER, Tick.TIMEWAIT_OVER, cm.settings().timewait());
    return Behaviors.receive(Cmd.class)
        .onMessage(Incoming.class, m -> {
          if (m.mad() instanceof CmProtocol.Dreq) {
            send(drep()); // our DREP was lost
          }
          return Behaviors.same();
        })
        .onMessage(Tick.class, t -> {
          if (t != Tick.TIMEWAIT_OVER) {
            return Behaviors.same();
          }
          cm.callbacks().deliver(sink, new CmEvent.TimewaitExit(conn));
          cm.cm().tell(new CmActor.ConnectionGone(conn.localCommId));
          return Behaviors.stopped();
        })
        .onMessage(Disconnect.class, d -> {
          Replies.complete(cm.replies(), d.result(), Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(DeviceGone.class, g -> {
          // The QP is in ERR already; the consumer still hears of the removal.
          cm.callbacks().deliver(sink, new CmEvent.DeviceRemoval(null, conn, conn.device().name()));
          g.done().complete(Done.getInstance());
          cm.cm().tell(new CmActor.ConnectionGone(conn.localCommId));
          return Behaviors.stopped();
        })
        .build();
  }

  // ---- endings ----

  private Behavior<Cmd> onTick(Tick t, String what) {
    if (t == Tick.RESEND) {
      if (lastSent != null) {
        send(lastSent);
      }
      return Behaviors.same();
    }
    if (t == Tick.TIMEOUT) {
      send(rej(RejectReason.TIMEOUT));
      return failed(RejectReason.TIMEOUT, null, "no answer to the " + what + " within "
          + cm.settings().connectTimeout(), false);
    }
    return Behaviors.same();
  }

  /**
   * The connection did not come about: QP to ERR, REJECTED to the sink, the consumer's stage failed. A passive side
   * lingers a while to fail a late accept.
   */
  private Behavior<Cmd> failed(RejectReason reason, byte[] peerData, String detail, boolean tellPeer) {
    timers.cancelAll();
    if (tellPeer) {
      send(rej(reason));
    }
    byte[] data = peerData == null ? new byte[0] : peerData.clone();
    Function<Throwable, Behavior<Cmd>> then = x -> {
      cm.callbacks().deliver(sink, new CmEvent.Rejected(conn, reason, data.clone()));
      failOutcome(new ConnectionRejectedException(reason, data, detail + " (" + conn + ")"));
      return finished(reason);
    };
    return qp == null ? then.apply(null) : applying(CmQp.toErr(qp), then);
  }

  private Behavior<Cmd> finished(RejectReason reason) {
    timers.cancelAll();
    completeDisconnects();
    cm.cm().tell(new CmActor.ConnectionGone(conn.localCommId));
    if (conn.active()) {
      return Behaviors.stopped();
    }
    goneReason = reason;
    timers.startSingleTimer(Tick.LINGER_OVER, Tick.LINGER_OVER, cm.settings().connectTimeout());
    return Behaviors.receive(Cmd.class)
        .onMessage(Accept.class, a -> {
          Replies.fail(cm.replies(), a.result(), new ConnectionRejectedException(goneReason == null
              ? RejectReason.STALE_CONNECTION : goneReason, null, "the request is gone (" + conn + ")"));
          return Behaviors.same();
        })
        .onMessage(Disconnect.class, this::disconnectNotEstablished)
        .onMessage(DeviceGone.class, g -> {
          g.done().complete(Done.getInstance());
          return Behaviors.stopped();
        })
        .onMessage(Tick.class, t -> t == Tick.LINGER_OVER ? Behaviors.stopped() : Behaviors.same())
        .onMessage(Incoming.class, m -> Behaviors.same())
        .onMessage(Reject.class, m -> Behaviors.same())
        .build();
  }

  private Behavior<Cmd> deviceGone(DeviceGone g) {
    timers.cancelAll();
    if (conn.params != null && outcome == null) {
      // Established (or disconnecting): the peer hears of it as a disconnection.
      send(new CmProtocol.Dreq(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId, new byte[0]));
    } else {
      send(rej(RejectReason.DEVICE_REMOVED));
    }
    Function<Throwable, Behavior<Cmd>> then = x -> {
      cm.callbacks().deliver(sink, new CmEvent.DeviceRemoval(null, conn, conn.device().name()));
      failOutcome(new ConnectionRejectedException(RejectReason.DEVICE_REMOVED, null,
          conn.device().name() + " is being unregistered (" + conn + ")"));
      completeDisconnects();
      g.done().complete(Done.getInstance());
      cm.cm().tell(new CmActor.ConnectionGone(conn.localCommId));
      return Behaviors.stopped();
    };
    return qp == null ? then.apply(null) : applying(CmQp.toErr(qp), then);
  }

  private Behavior<Cmd> disconnectNotEstablished(Disconnect d) {
    Replies.complete(cm.replies(), d.result(), Done.getInstance());
    return Behaviors.same();
  }

  // ---- helpers ----

  /** Waits for {@code stage}, stashing everything else, then continues with {@code next} (given the failure). */
  private Behavior<Cmd> applying(CompletionStage<Done> stage, Function<Throwable, Behavior<Cmd>> next) {
    ctx.pipeToSelf(stage, (d, e) -> new Applied(e));
    return Behaviors.receive(Cmd.class)
        .onMessage(Applied.class, a -> stash.unstashAll(next.apply(a.failure())))
        .onAnyMessage(m -> {
          if (m == Tick.RESEND) {
            return Behaviors.same(); // resending waits until the QP is where the message says it is
          }
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  private void startRetries(java.time.Duration total) {
    timers.startTimerWithFixedDelay(Tick.RESEND, Tick.RESEND, cm.settings().retryInterval());
    timers.startSingleTimer(Tick.TIMEOUT, Tick.TIMEOUT, total);
  }

  private void send(CmProtocol.Mad mad) {
    lastSent = mad;
    if (!cm.transport().send(mad)) {
      ctx.getLog().debug("{}: no CM serves {} now; {} not sent (the timeout decides)", conn, mad.dstGid(),
          mad.getClass().getSimpleName());
    }
  }

  private CmProtocol.Rej rej(RejectReason reason) {
    return new CmProtocol.Rej(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId, reason, new byte[0]);
  }

  private CmProtocol.Drep drep() {
    return new CmProtocol.Drep(conn.localGid(), conn.remoteGid, conn.localCommId, remoteCommId,
        new byte[0]);
  }

  private void failOutcome(Throwable error) {
    CompletableFuture<CmConnection> f = outcome;
    outcome = null;
    if (f != null) {
      Replies.fail(cm.replies(), f, error);
    }
  }

  private void completeDisconnects() {
    for (CompletableFuture<Done> d : disconnects) {
      Replies.complete(cm.replies(), d, Done.getInstance());
    }
    disconnects.clear();
  }

  private static Mtu min(Mtu a, Mtu b) {
    return a.bytes() <= b.bytes() ? a : b;
  }
}
