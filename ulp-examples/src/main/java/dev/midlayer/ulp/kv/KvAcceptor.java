package dev.midlayer.ulp.kv;

import static dev.midlayer.ulp.kv.KvEndpoint.await;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The key-value server's actor on one device, on the blocking dispatcher: the CM tells it the listener's and the
 * connections' events; it sets each client's connection up (QP in the device's PD, receives posted, REP with
 * the table's address and key) and down. {@link Stop} releases every connection and stops it.
 */
final class KvAcceptor {
  sealed interface Command {}

  record FromCm(CmEvent event) implements Command {}

  record Stop(CompletableFuture<Void> done) implements Command {}

  /** The most PUTs a client may have in flight. */
  static final int MAX_WINDOW = 256;

  private final Device device;
  private final ProtectionDomain pd;
  private final MemoryRegion tableMr;
  private final KvTable table;
  private final KvLayout layout;
  private final ConnectionManager cm;
  private final LongAdder puts;
  private final String server;
  private final Map<Integer, KvServerConnection> connections = new ConcurrentHashMap<>();

  KvAcceptor(Device device, ProtectionDomain pd, MemoryRegion tableMr, KvLayout layout, ConnectionManager cm,
      LongAdder puts, String server) {
    this.device = device;
    this.pd = pd;
    this.tableMr = tableMr;
    this.table = new KvTable(layout, tableMr.buffer());
    this.layout = layout;
    this.cm = cm;
    this.puts = puts;
    this.server = server;
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
              connections.values().forEach(this::retire);
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
    } else if (e instanceof CmEvent.Disconnected d) {
      KvServerConnection c = connections.get(d.connection().qp().qpNum());
      if (c != null) {
        retire(c);
      }
    }
    return Behaviors.same();
  }

  /** <b>Sleeps</b> (this actor's blocking dispatcher). */
  private void accept(ActorContext<Command> ctx, CmEvent.ConnectRequest r) {
    byte[] pdata = r.privateData();
    int window = pdata != null && pdata.length >= 4 ? ByteBuffer.wrap(pdata).getInt() : -1;
    if (window < 1 || window > MAX_WINDOW) {
      r.reject(("the REQ's private data must be the PUT window, 1.." + MAX_WINDOW).getBytes(StandardCharsets.UTF_8));
      return;
    }
    int receives = 2 * window;
    KvServerConnection c;
    try {
      KvEndpoint ep = KvEndpoint.open(device, pd, receives, receives, KvServerConnection.bufferBytes(layout, receives));
      c = new KvServerConnection(ep, table, layout, receives, puts);
    } catch (KvException ex) {
      ctx.getLog().warn("{}: cannot accept {} on {}: {}", server, r.remoteGid(), device.name(), ex.getMessage());
      r.reject("the server could not set up".getBytes(StandardCharsets.UTF_8));
      return;
    }
    connections.put(c.ep.qp.qpNum(), c);
    try {
      await(cm.initQp(c.ep.qp, 1), "initQp of QP " + c.ep.qp.qpNum());
      c.postReceives();
      byte[] rep = KvProtocol.rep(tableMr.iova(), tableMr.rkey(), layout);
      c.connection = await(r.request().accept(c.ep.qp, rep, CmEventSink.of(ctx.messageAdapter(CmEvent.class,
          FromCm::new))), "accept of " + r.remoteGid() + " on " + device.name());
    } catch (RuntimeException ex) {
      ctx.getLog().warn("{}: connection from {} on {} failed: {}", server, r.remoteGid(), device.name(),
          ex.getMessage());
      retire(c);
    }
  }

  /** <b>Sleeps</b>. */
  private void retire(KvServerConnection c) {
    CmConnection conn = c.connection;
    if (conn != null) {
      try {
        await(conn.disconnect(), "disconnect");
      } catch (KvException ex) {
        // the client disconnected first
      }
    }
    c.ep.close();
    connections.remove(c.ep.qp.qpNum());
  }
}
