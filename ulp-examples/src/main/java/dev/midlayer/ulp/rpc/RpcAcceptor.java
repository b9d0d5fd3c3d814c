package dev.midlayer.ulp.rpc;

import static dev.midlayer.ulp.rpc.RpcWire.await;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.verbs.QueuePair;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The rpc server's actor on one device, on the blocking dispatcher: admits a client while its credits fit in the
 * SRQ (else REJ naming the shortfall), sets its QP up on the SRQ, and tears it down when it disconnects.
 * {@link Stop} releases every connection and stops it.
 */
final class RpcAcceptor {
  sealed interface Command {}

  record FromCm(CmEvent event) implements Command {}

  record Stop(CompletableFuture<Void> done) implements Command {}

  private final RpcServerDevice dev;
  private final ConnectionManager cm;
  private final Map<Integer, CmConnection> connections = new ConcurrentHashMap<>();
  /** Credits granted to the connected clients; this actor's state. */
  private int granted;

  RpcAcceptor(RpcServerDevice dev, ConnectionManager cm) {
    this.dev = dev;
    this.cm = cm;
  }

  int connections() {
    return connections.size();
  }

  Behavior<Command> behavior(CompletableFuture<ActorRef<CmEvent>> sink) {
    return Behaviors.setup(ctx -> {
      sink.complete(ctx.messageAdapter(CmEvent.class, FromCm::new));
      return Behaviors.receive(Command.class)
          .onMessage(FromCm.class, m -> onEvent(ctx, m.event()))
          .onMessage(Stop.class, s -> {
            try {
              for (Integer qpn : connections.keySet()) {
                retire(qpn);
              }
              s.done().complete(null);
            } catch (RuntimeException e) {
              s.done().completeExceptionally(e);
            }
            return Behaviors.stopped();
          })
          .build();
    });
  }

  private Behavior<Command> onEvent(ActorContext<Command> ctx, CmEvent e) {
    if (e instanceof CmEvent.ConnectRequest r) {
      accept(ctx, r);
    } else if (e instanceof CmEvent.Disconnected d && connections.containsKey(d.connection().qp().qpNum())) {
      retire(d.connection().qp().qpNum());
    }
    return Behaviors.same();
  }

  /** <b>Sleeps</b> (the blocking dispatcher). */
  private void accept(ActorContext<Command> ctx, CmEvent.ConnectRequest r) {
    if (granted + dev.credits > dev.srqDepth) {
      r.reject(("no credits left: " + connections.size() + " clients x " + dev.credits + " credits fill the SRQ of "
          + dev.srqDepth + " receives").getBytes(StandardCharsets.UTF_8));
      return;
    }
    QueuePair qp;
    try {
      qp = dev.createQp();
    } catch (RpcException ex) {
      r.reject("the server could not set up".getBytes(StandardCharsets.UTF_8));
      return;
    }
    dev.qps.put(qp.qpNum(), qp);
    granted += dev.credits;
    try {
      CmConnection c = await(r.request().accept(qp, ByteBuffer.allocate(4).putInt(dev.credits).array(),
          CmEventSink.of(ctx.messageAdapter(CmEvent.class, FromCm::new))), "accept of " + r.remoteGid());
      connections.put(qp.qpNum(), c);
    } catch (RuntimeException ex) {
      ctx.getLog().warn("rpc server on {}: connection from {} failed: {}", dev.device.name(), r.remoteGid(),
          ex.getMessage());
      release(qp);
    }
  }

  /** Disconnects, drains and destroys a client's QP; its credits go back. <b>Sleeps</b>. */
  private void retire(int qpn) {
    CmConnection c = connections.remove(qpn);
    if (c != null) {
      try {
        await(c.disconnect(), "disconnect");
      } catch (RpcException ex) {
        // the client disconnected first
      }
      release(c.qp());
    }
  }

  private void release(QueuePair qp) {
    try {
      await(qp.drainQp(), "drainQp of QP " + qp.qpNum());
    } catch (RpcException ex) {
      // never out of RESET: nothing to drain
    }
    dev.qps.remove(qp.qpNum());
    await(qp.destroy(), "destroy of QP " + qp.qpNum());
    granted -= dev.credits;
  }
}
