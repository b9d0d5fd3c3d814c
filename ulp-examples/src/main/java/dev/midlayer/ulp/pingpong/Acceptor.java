package dev.midlayer.ulp.pingpong;

import static dev.midlayer.ulp.pingpong.PingPongEndpoint.await;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.device.Device;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The pingpong server's actor on one device. The CM delivers the listener's and the connections' events here
 * (an {@code ActorRef} sink: the CM tells it, so no consumer callback has to hand work on). Accepting a connection
 * makes a CQ, a QP and a buffer, which may sleep, so the actor runs on the actor system's blocking dispatcher;
 * one request is set up at a time. A connection the client disconnects is drained and destroyed here too.
 * {@link Stop} releases every connection left and stops the actor: the server's {@code remove} waits for it.
 */
final class Acceptor {
  /** What the actor handles. */
  sealed interface Command {}

  /** An event from the CM, for the listener or one of its connections. */
  record FromCm(CmEvent event) implements Command {}

  /** Release every connection, complete {@code done}, and stop. */
  record Stop(CompletableFuture<Void> done) implements Command {}

  private final Device device;
  private final String server;
  private final ConnectionManager cm;
  private final boolean busyPoll;
  private final LongAdder echoes;
  /** The open connections by QP number; read by other threads for {@link #connections()}. */
  private final Map<Integer, Pong> pongs = new ConcurrentHashMap<>();

  Acceptor(Device device, String server, ConnectionManager cm, boolean busyPoll, LongAdder echoes) {
    this.device = device;
    this.server = server;
    this.cm = cm;
    this.busyPoll = busyPoll;
    this.echoes = echoes;
  }

  /** Connections open now. Never blocks; any thread. */
  int connections() {
    return pongs.size();
  }

  /** The actor; {@code sink} gets the ref the CM is to tell events to. */
  Behavior<Command> behavior(CompletableFuture<ActorRef<CmEvent>> sink) {
    return Behaviors.setup(ctx -> {
      sink.complete(ctx.messageAdapter(CmEvent.class, FromCm::new));
      return Behaviors.receive(Command.class)
          .onMessage(FromCm.class, m -> onEvent(ctx, m.event()))
          .onMessage(Stop.class, this::onStop)
          .build();
    });
  }

  private Behavior<Command> onEvent(ActorContext<Command> ctx, CmEvent e) {
    if (e instanceof CmEvent.ConnectRequest r) {
      accept(ctx, r);
    } else if (e instanceof CmEvent.Disconnected d) {
      Pong p = pongs.get(d.connection().qp().qpNum());
      if (p != null) {
        retire(p);
      }
    }
    return Behaviors.same();
  }

  private Behavior<Command> onStop(Stop s) {
    try {
      for (Pong p : pongs.values()) {
        retire(p);
      }
      s.done().complete(null);
    } catch (RuntimeException e) {
      s.done().completeExceptionally(e);
    }
    return Behaviors.stopped();
  }

  /** Sets the connection up and accepts it. <b>Sleeps</b> (this actor's blocking dispatcher). */
  private void accept(ActorContext<Command> ctx, CmEvent.ConnectRequest r) {
    int size = requestedSize(r.privateData());
    if (size < 0) {
      r.reject(reason("the REQ's private data must be the message size, " + PingPongOptions.MIN_SIZE + ".."
          + PingPongOptions.MAX_SIZE));
      return;
    }
    Pong p;
    try {
      p = new Pong(PingPongEndpoint.open(device, Pong.RECEIVES * size, Pong.RECEIVES, Pong.RECEIVES, busyPoll), size,
          echoes);
    } catch (PingPongException ex) {
      ctx.getLog().warn("{}: cannot accept {} on {}: {}", server, r.remoteGid(), device.name(), ex.getMessage());
      r.reject(reason("the server could not set up: " + ex.getMessage()));
      return;
    }
    pongs.put(p.ep.qp.qpNum(), p);
    try {
      await(cm.initQp(p.ep.qp, 1), "initQp of QP " + p.ep.qp.qpNum());
      p.postReceives(); // before the REP: the client's first ping finds a receive
      p.connection = await(r.request().accept(p.ep.qp, null, CmEventSink.of(ctx.messageAdapter(CmEvent.class,
          FromCm::new))), "accept of " + r.remoteGid() + " on " + device.name());
    } catch (RuntimeException ex) {
      ctx.getLog().warn("{}: connection from {} on {} failed: {}", server, r.remoteGid(), device.name(),
          ex.getMessage());
      retire(p);
    }
  }

  /** Disconnects (if still connected), drains and destroys a connection. <b>Sleeps</b>. */
  private void retire(Pong p) {
    CmConnection c = p.connection;
    if (c != null) {
      try {
        await(c.disconnect(), "disconnect");
      } catch (PingPongException ex) {
        // the client disconnected first
      }
    }
    p.ep.close();
    pongs.remove(p.ep.qp.qpNum());
  }

  /** The message size a REQ's private data asks for, or -1 if it is not a valid one. */
  static int requestedSize(byte[] privateData) {
    if (privateData == null || privateData.length < 4) {
      return -1;
    }
    int size = ByteBuffer.wrap(privateData).getInt();
    return size >= PingPongOptions.MIN_SIZE && size <= PingPongOptions.MAX_SIZE ? size : -1;
  }

  /** A REJ's private data saying why. */
  static byte[] reason(String why) {
    byte[] b = why.getBytes(StandardCharsets.UTF_8);
    return b.length <= PrivateDataLimits.REJ ? b : Arrays.copyOf(b, PrivateDataLimits.REJ);
  }
}
