package dev.midlayer.internal.cm;

import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionRejectedException;
import dev.midlayer.cm.RejectReason;
import dev.midlayer.cm.UdRemote;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpType;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.LogMdc;
import dev.midlayer.internal.Replies;
import dev.midlayer.registry.NameTakenException;
import dev.midlayer.verbs.QueuePair;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * Internal API. The CM of one midlayer (Linux {@code cm.c}'s {@code cm_device}/{@code cm_port} tables and its MAD
 * dispatch, plus {@code cma.c}'s listeners): it is a client of the midlayer (so it learns of devices coming and
 * going, in order, and delivers DEVICE_REMOVAL before a device's removal completes), registers its wire address
 * with the Receptionist under {@code midlayer.cm.service-key}, tells every CM it sees in the listing its port
 * GIDs, keeps the listeners, routes each CM message to the {@link ConnectionActor} of its connection, and runs
 * SIDR. Until its client registration completed (it has seen every device), requests wait in its stash.
 */
public final class CmActor {
  public sealed interface Command {}

  private record Wire(CmProtocol msg) implements Command {}

  private record PeersListed(Set<ActorRef<CmProtocol>> peers) implements Command {}

  private record FromRegistry(ClientMessage msg) implements Command {}

  private record Registered(Throwable failure) implements Command {}

  record Listen(Device device, int port, long serviceId, CmEventSink sink, CompletableFuture<CmListener> result)
      implements Command {}

  record StopListening(ListenerImpl listener, CompletableFuture<Done> result) implements Command {}

  record Connect(Device device, int port, CmDestination destination, long serviceId, QueuePair qp,
      byte[] privateData, ConnectOptions options, CompletableFuture<CmConnection> result) implements Command {}

  record ResolveUd(Device device, int port, CmDestination destination, long serviceId, byte[] privateData,
      CompletableFuture<UdRemote> result) implements Command {}

  /**
   * {@code initQp}: the modify is made here, on the CM's actor, never on the caller's thread, which may be a
   * callback (atomic context: no may-sleep verb, no thread creation, which submitting to a pool can do).
   */
  record InitQp(QueuePair qp, int port, CompletableFuture<Done> result) implements Command {}

  /** A connection actor is done; forget its routes. */
  record ConnectionGone(long localCommId) implements Command {}

  /** A consumer answered a SIDR_REQ. */
  record SidrAnswered(CmProtocol.SidrRep rep) implements Command {}

  private record DeviceCleared(ActorRef<Done> replyTo) implements Command {}

  private record SidrTick(long requestId, boolean timeout) implements Command {}

  private record SidrForget(SidrKey key) implements Command {}

  /** A connect or SIDR resolve waited {@code resolve-timeout} for its destination to be announced. */
  private record ResolveTimeout(Command request) implements Command {}

  private record LocalPort(Device device, int port) {}

  private record ListenKey(Device device, int port, long serviceId) {}

  private record RemoteKey(Gid srcGid, long commId) {}

  private record SidrKey(Gid srcGid, long requestId) {}

  private record Conn(ActorRef<ConnectionActor.Cmd> actor, Device device, RemoteKey remote) {}

  private record PendingSidr(CmProtocol.SidrReq req, int port, Device device, CompletableFuture<UdRemote> result) {}

  /**
   * The CM actor. {@code registered} completes when the CM's client endpoint ({@link #clientEndpoint}) is
   * registered with the midlayer; until then the consumers' requests wait.
   */
  public static Behavior<Command> create(CmSettings settings, CallbackWatchdog watchdog, String callbackDispatcher,
      CompletionStage<ClientId> registered) {
    return Behaviors.withMdc(Command.class, CmActor::mdc, Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        Behaviors.withStash(10_000, stash ->
            new CmActor(settings, watchdog, callbackDispatcher, registered, ctx, timers, stash).starting()))));
  }

  /** The MDC of a request about one device (the CM serves them all): its device, port and QP. */
  private static Map<String, String> mdc(Command c) {
    if (c instanceof Connect k) {
      return LogMdc.of(k.device(), k.port(), k.qp());
    }
    if (c instanceof Listen l) {
      return LogMdc.of(l.device(), l.port(), null);
    }
    if (c instanceof ResolveUd r) {
      return LogMdc.of(r.device(), r.port(), null);
    }
    if (c instanceof InitQp i) {
      return LogMdc.of(i.qp().device(), i.port(), i.qp());
    }
    if (c instanceof FromRegistry r) {
      return LogMdc.forClientMessage(r.msg());
    }
    return Map.of();
  }

  /**
   * The CM's side of the client protocol: it hands what the registry says to {@code cm}. A separate actor, so
   * that its ref exists (and its registration is sent) before {@code Midlayer.connectionManager()} returns: the
   * CM is then registered before any client that uses it from its {@code add}, and so is added to each device
   * first (the registry adds in client registration order).
   */
  public static Behavior<ClientMessage> clientEndpoint(ActorRef<Command> cm) {
    return Behaviors.receive(ClientMessage.class).onAnyMessage(m -> {
      cm.tell(new FromRegistry(m));
      return Behaviors.same();
    }).build();
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final StashBuffer<Command> stash;
  private final CmContext cm;
  private final ReceptionistTransport transport;
  private final ActorRef<CmProtocol> wire;
  private final ServiceKey<CmProtocol> key;
  private final String selfNode;
  private final Map<Device, List<CmProtocol.PortGids>> devices = new LinkedHashMap<>();
  private final Map<Gid, LocalPort> localGids = new HashMap<>();
  private final Map<ListenKey, ListenerImpl> listeners = new HashMap<>();
  private final Map<Long, Conn> connections = new HashMap<>();
  private final Map<RemoteKey, Long> passiveByRemote = new HashMap<>();
  private final Map<Long, PendingSidr> sidrPending = new HashMap<>();
  private final Map<SidrKey, CmProtocol.SidrRep> sidrSeen = new HashMap<>();
  private Set<ActorRef<CmProtocol>> peers = Set.of();
  private final Map<String, Map<String, Gid>> remoteNodes = new HashMap<>();
  private final Map<ActorRef<CmProtocol>, String> peerNodes = new HashMap<>();
  private long nextCommId = ThreadLocalRandom.current().nextLong() & 0x7fff_ffff_ffff_0000L;

  private CmActor(CmSettings settings, CallbackWatchdog watchdog, String callbackDispatcher,
      CompletionStage<ClientId> registered, ActorContext<Command> ctx,
      TimerScheduler<Command> timers, StashBuffer<Command> stash) {
    this.ctx = ctx;
    this.timers = timers;
    this.stash = stash;
    // The wire address is a child, not a message adapter: an actor's adapters share one ref, and the Receptionist
    // refuses (its actor fails) to watch one ref both as a registered service and as a subscriber.
    ActorRef<Command> self = ctx.getSelf();
    this.wire = ctx.spawn(Behaviors.receive(CmProtocol.class).onAnyMessage(m -> {
      self.tell(new Wire(m));
      return Behaviors.same();
    }).build(), "wire", DispatcherSelector.sameAsParent());
    this.transport = new ReceptionistTransport(wire);
    ActorRef<CmCallbacks.Deliver> callbacks = ctx.spawn(CmCallbacks.behavior(watchdog), "callbacks",
        DispatcherSelector.fromConfig(callbackDispatcher));
    this.cm = new CmContext(settings, transport, new CmCallbacks(callbacks), ctx.getSystem().executionContext(),
        ctx.getSelf());
    this.key = ServiceKey.create(CmProtocol.class, settings.serviceKey());
    this.selfNode = ctx.getSystem().address().toString();
    ActorRef<Receptionist.Listing> listing = ctx.messageAdapter(Receptionist.Listing.class,
        l -> new PeersListed(l.getServiceInstances(key)));
    ctx.getSystem().receptionist().tell(Receptionist.register(key, wire));
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(key, listing));
    ctx.pipeToSelf(registered, (id, e) -> new Registered(e));
  }

  /** Until registered as a client: the requests of consumers wait; the rest is handled. */
  private Behavior<Command> starting() {
    return Behaviors.receive(Command.class)
        .onMessage(Registered.class, r -> {
          if (r.failure() != null) {
            ctx.getLog().error("the CM could not register as a midlayer client; it knows no devices", r.failure());
          }
          return stash.unstashAll(running());
        })
        .onMessage(Listen.class, this::stashIt)
        .onMessage(Connect.class, this::stashIt)
        .onMessage(ResolveUd.class, this::stashIt)
        .onMessage(StopListening.class, this::stashIt)
        .onAnyMessage(this::handle)
        .build();
  }

  private Behavior<Command> stashIt(Command c) {
    stash.stash(c);
    return Behaviors.same();
  }

  private Behavior<Command> running() {
    return Behaviors.receive(Command.class).onAnyMessage(this::handle).build();
  }

  private Behavior<Command> handle(Command c) {
    if (c instanceof Wire w) {
      onWire(w.msg());
    } else if (c instanceof FromRegistry r) {
      onRegistry(r.msg());
    } else if (c instanceof PeersListed p) {
      onPeers(p.peers());
    } else if (c instanceof Listen l) {
      onListen(l);
    } else if (c instanceof StopListening s) {
      ListenKey k = new ListenKey(s.listener().device(), s.listener().port(), s.listener().serviceId());
      listeners.remove(k, s.listener());
      Replies.complete(cm.replies(), s.result(), Done.getInstance());
    } else if (c instanceof Connect k) {
      onConnect(k);
    } else if (c instanceof ResolveUd r) {
      onResolveUd(r);
    } else if (c instanceof InitQp i) {
      CmQp.toInit(i.qp(), i.port()).whenComplete((done, failure) -> {
        if (failure != null) {
          Replies.fail(cm.replies(), i.result(), failure);
        } else {
          Replies.complete(cm.replies(), i.result(), Done.getInstance());
        }
      });
    } else if (c instanceof ConnectionGone g) {
      Conn gone = connections.remove(g.localCommId());
      if (gone != null && gone.remote() != null) {
        passiveByRemote.remove(gone.remote(), g.localCommId());
      }
    } else if (c instanceof SidrAnswered a) {
      sidrSeen.put(new SidrKey(a.rep().dstGid(), a.rep().requestId()), a.rep());
      transport.send(a.rep());
    } else if (c instanceof SidrTick t) {
      onSidrTick(t);
    } else if (c instanceof SidrForget f) {
      sidrSeen.remove(f.key());
    } else if (c instanceof DeviceCleared d) {
      d.replyTo().tell(Done.getInstance());
    } else if (c instanceof ResolveTimeout t) {
      if (unresolved.remove(t.request())) {
        gaveUp.add(t.request());
        handle(t.request());
      }
    }
    return Behaviors.same();
  }

  /**
   * Requests whose destination no CM has announced yet, oldest first: tried again whenever a CM announces its
   * ports, failed with UNREACHABLE when their resolve timeout fires ({@code gaveUp}).
   */
  private final List<Command> unresolved = new ArrayList<>();
  private final java.util.Set<Command> gaveUp =
      java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

  /** Parks {@code request} until its destination is announced; false if its wait is over (fail it now). */
  private boolean awaitDestination(Command request) {
    if (gaveUp.remove(request)) {
      return false;
    }
    unresolved.add(request);
    if (!timers.isTimerActive(request)) {
      timers.startSingleTimer(request, new ResolveTimeout(request), cm.settings().resolveTimeout());
    }
    return true;
  }

  /** Some CM announced ports: the parked requests try again (their timers keep running). */
  private void retryUnresolved() {
    if (unresolved.isEmpty()) {
      return;
    }
    List<Command> again = new ArrayList<>(unresolved);
    unresolved.clear();
    for (Command c : again) {
      handle(c);
    }
  }

  // ---- devices and directory ----

  private void onRegistry(ClientMessage m) {
    if (m instanceof ClientMessage.DeviceAdded a) {
      List<CmProtocol.PortGids> ports = new ArrayList<>();
      for (int p = 1; p <= a.device().portCount(); p++) {
        ports.add(new CmProtocol.PortGids(a.device().name(), p, a.device().cachedPort(p).gids()));
      }
      devices.put(a.device(), ports);
      gidsChanged();
      a.replyTo().tell(ClientMessage.AddReply.added());
    } else if (m instanceof ClientMessage.DeviceRemoved r) {
      onDeviceRemoved(r.device(), r.replyTo());
    }
  }

  private void onDeviceRemoved(Device device, ActorRef<Done> replyTo) {
    devices.remove(device);
    gidsChanged();
    listeners.entrySet().removeIf(e -> {
      if (e.getKey().device().equals(device)) {
        cm.callbacks().deliver(e.getValue().sink, new CmEvent.DeviceRemoval(e.getValue(), null, device.name()));
        return true;
      }
      return false;
    });
    sidrPending.entrySet().removeIf(e -> {
      if (e.getValue().device().equals(device)) {
        timers.cancel(new SidrTick(e.getKey(), false));
        timers.cancel(new SidrTick(e.getKey(), true));
        Replies.fail(cm.replies(), e.getValue().result(), new ConnectionRejectedException(
            RejectReason.DEVICE_REMOVED, null, device.name() + " is being unregistered"));
        return true;
      }
      return false;
    });
    List<CompletableFuture<Done>> cleared = new ArrayList<>();
    for (Conn c : connections.values()) {
      if (c.device().equals(device)) {
        CompletableFuture<Done> done = new CompletableFuture<>();
        cleared.add(done);
        c.actor().tell(new ConnectionActor.DeviceGone(done));
      }
    }
    // The remove returns once every connection's QP is in ERR and its DEVICE_REMOVAL is on its way.
    ctx.pipeToSelf(CompletableFuture.allOf(cleared.toArray(CompletableFuture[]::new)),
        (d, e) -> new DeviceCleared(replyTo));
  }

  private void gidsChanged() {
    localGids.clear();
    for (Map.Entry<Device, List<CmProtocol.PortGids>> e : devices.entrySet()) {
      for (CmProtocol.PortGids p : e.getValue()) {
        for (Gid g : p.gids()) {
          localGids.putIfAbsent(g, new LocalPort(e.getKey(), p.port()));
        }
      }
    }
    transport.localGids(localGids.keySet());
    for (ActorRef<CmProtocol> peer : peers) {
      if (!peer.equals(wire)) {
        peer.tell(ports(false));
      }
    }
  }

  private CmProtocol.Ports ports(boolean answer) {
    List<CmProtocol.PortGids> all = new ArrayList<>();
    devices.values().forEach(all::addAll);
    return new CmProtocol.Ports(wire, selfNode, List.copyOf(all), answer);
  }

  private void onPeers(Set<ActorRef<CmProtocol>> listed) {
    for (ActorRef<CmProtocol> p : listed) {
      if (!p.equals(wire) && !peers.contains(p)) {
        p.tell(ports(true));
      }
    }
    for (ActorRef<CmProtocol> p : peers) {
      if (!listed.contains(p)) {
        transport.drop(p);
        String node = peerNodes.remove(p);
        if (node != null) {
          remoteNodes.remove(node);
        }
      }
    }
    peers = Set.copyOf(listed);
  }

  private void onPorts(CmProtocol.Ports p) {
    if (p.cm().equals(wire)) {
      return;
    }
    List<Gid> gids = new ArrayList<>();
    Map<String, Gid> byPort = new HashMap<>();
    for (CmProtocol.PortGids pg : p.ports()) {
      gids.addAll(pg.gids());
      byPort.put(pg.deviceName() + ":" + pg.port(), pg.gids().get(0));
    }
    transport.peer(p.cm(), gids);
    peerNodes.put(p.cm(), p.node());
    remoteNodes.put(p.node(), byPort);
    if (p.answer()) {
      p.cm().tell(ports(false));
    }
    retryUnresolved();
  }

  /** The GID of the destination, or null if no CM is known to serve it. */
  private Gid resolve(CmDestination d) {
    if (d instanceof CmDestination.ByGid g) {
      return transport.reaches(g.gid()) ? g.gid() : null;
    }
    CmDestination.ByNode n = (CmDestination.ByNode) d;
    String node = n.node().toString();
    if (node.equals(selfNode)) {
      for (Map.Entry<Device, List<CmProtocol.PortGids>> e : devices.entrySet()) {
        if (e.getKey().name().equals(n.deviceName()) && n.port() <= e.getValue().size()) {
          return e.getValue().get(n.port() - 1).gids().get(0);
        }
      }
      return null;
    }
    Map<String, Gid> byPort = remoteNodes.get(node);
    return byPort == null ? null : byPort.get(n.deviceName() + ":" + n.port());
  }

  // ---- consumer requests ----

  private void onListen(Listen l) {
    if (!devices.containsKey(l.device())) {
      Replies.fail(cm.replies(), l.result(), notKnown(l.device()));
      return;
    }
    ListenKey k = new ListenKey(l.device(), l.port(), l.serviceId());
    if (listeners.containsKey(k)) {
      Replies.fail(cm.replies(), l.result(), new NameTakenException("service ID", "0x"
          + Long.toHexString(l.serviceId()) + " on " + l.device().name() + ":" + l.port()));
      return;
    }
    ListenerImpl listener = new ListenerImpl(l.device(), l.port(), l.serviceId(), l.sink(), ctx.getSelf());
    listeners.put(k, listener);
    Replies.complete(cm.replies(), l.result(), listener);
  }

  private ConnectionRejectedException notKnown(Device d) {
    return new ConnectionRejectedException(RejectReason.DEVICE_REMOVED, null, d.name()
        + " is not (or no longer) registered with the CM");
  }

  private long commId() {
    nextCommId++;
    if (nextCommId == 0) {
      nextCommId++;
    }
    return nextCommId;
  }

  private void onConnect(Connect k) {
    Device device = k.device();
    if (!devices.containsKey(device)) {
      Replies.fail(cm.replies(), k.result(), notKnown(device));
      return;
    }
    Gid localGid = device.cachedPort(k.port()).gids().get(0);
    Gid dst = resolve(k.destination());
    long id = commId();
    ConnectionImpl conn = new ConnectionImpl(id, device, k.port(), k.serviceId(), k.qp(), localGid, dst, true);
    if (dst == null && awaitDestination(k)) {
      return;
    }
    timers.cancel(k);
    if (dst == null) {
      String why = "no CM serves " + k.destination() + " (known: this node's ports and those the CMs in the "
          + "Receptionist listing announced)";
      cm.callbacks().deliver(k.options().events(), new CmEvent.Unreachable(conn, k.destination(), why));
      Replies.fail(cm.replies(), k.result(), new ConnectionRejectedException(RejectReason.UNREACHABLE, null, why));
      return;
    }
    ConnectOptions o = k.options();
    var attrs = device.attributes();
    CmProtocol.Req req = new CmProtocol.Req(localGid, dst, id, k.serviceId(), k.qp().qpNum(),
        k.qp().type() == QpType.UC, ConnectionManagerImpl.randomPsn(), device.cachedPort(k.port()).activeMtu(),
        Math.min(o.responderResources(), attrs.maxQpRdAtom()), Math.min(o.initiatorDepth(), attrs.maxQpInitRdAtom()),
        o.rnrRetryCount(), o.retryCount(), o.localAckTimeout(), k.privateData());
    ActorRef<ConnectionActor.Cmd> actor = ctx.spawn(ConnectionActor.active(cm, conn, req, o, k.result()),
        "conn-" + Long.toHexString(id));
    conn.actor = actor;
    connections.put(id, new Conn(actor, device, null));
  }

  private void onResolveUd(ResolveUd r) {
    if (!devices.containsKey(r.device())) {
      Replies.fail(cm.replies(), r.result(), notKnown(r.device()));
      return;
    }
    Gid dst = resolve(r.destination());
    if (dst == null && awaitDestination(r)) {
      return;
    }
    timers.cancel(r);
    if (dst == null) {
      Replies.fail(cm.replies(), r.result(), new ConnectionRejectedException(RejectReason.UNREACHABLE, null,
          "no CM serves " + r.destination()));
      return;
    }
    long id = commId();
    CmProtocol.SidrReq req = new CmProtocol.SidrReq(r.device().cachedPort(r.port()).gids().get(0), dst, id,
        r.serviceId(), r.privateData());
    sidrPending.put(id, new PendingSidr(req, r.port(), r.device(), r.result()));
    transport.send(req);
    timers.startTimerWithFixedDelay(new SidrTick(id, false), new SidrTick(id, false), cm.settings().retryInterval());
    timers.startSingleTimer(new SidrTick(id, true), new SidrTick(id, true), cm.settings().connectTimeout());
  }

  private void onSidrTick(SidrTick t) {
    PendingSidr p = sidrPending.get(t.requestId());
    if (p == null) {
      return;
    }
    if (!t.timeout()) {
      transport.send(p.req());
      return;
    }
    sidrPending.remove(t.requestId());
    timers.cancel(new SidrTick(t.requestId(), false));
    Replies.fail(cm.replies(), p.result(), new ConnectionRejectedException(RejectReason.TIMEOUT, null,
        "no SIDR_REP within " + cm.settings().connectTimeout()));
  }

  // ---- CM messages ----

  private void onWire(CmProtocol m) {
    if (m instanceof CmProtocol.Ports p) {
      onPorts(p);
    } else if (m instanceof CmProtocol.Req req) {
      onReq(req);
    } else if (m instanceof CmProtocol.ConnMad c) {
      onConnMad(c);
    } else if (m instanceof CmProtocol.SidrReq s) {
      onSidrReq(s);
    } else if (m instanceof CmProtocol.SidrRep s) {
      onSidrRep(s);
    }
  }

  private void onReq(CmProtocol.Req req) {
    LocalPort at = localGids.get(req.dstGid());
    if (at == null) {
      return; // not (or no longer) ours: the active side times out
    }
    RemoteKey remote = new RemoteKey(req.srcGid(), req.localCommId());
    Long known = passiveByRemote.get(remote);
    if (known != null) {
      Conn c = connections.get(known);
      if (c != null) {
        c.actor().tell(new ConnectionActor.Incoming(req)); // a resent REQ
      }
      return;
    }
    ListenerImpl listener = listeners.get(new ListenKey(at.device(), at.port(), req.serviceId()));
    if (listener == null) {
      transport.send(new CmProtocol.Rej(req.dstGid(), req.srcGid(), 0, req.localCommId(), RejectReason.NO_LISTENER,
          new byte[0]));
      return;
    }
    long id = commId();
    ConnectionImpl conn = new ConnectionImpl(id, at.device(), at.port(), req.serviceId(), null, req.dstGid(),
        req.srcGid(), false);
    ActorRef<ConnectionActor.Cmd> actor = ctx.spawn(ConnectionActor.passive(cm, conn, req, listener),
        "conn-" + Long.toHexString(id));
    conn.actor = actor;
    connections.put(id, new Conn(actor, at.device(), remote));
    passiveByRemote.put(remote, id);
  }

  private void onConnMad(CmProtocol.ConnMad m) {
    Long id = m.remoteCommId() != 0 ? Long.valueOf(m.remoteCommId())
        : passiveByRemote.get(new RemoteKey(m.srcGid(), m.localCommId()));
    Conn c = id == null ? null : connections.get(id);
    if (c != null) {
      c.actor().tell(new ConnectionActor.Incoming(m));
    } else if (m instanceof CmProtocol.Rep rep) {
      // A REP for a connection this side no longer has (it timed out): the passive side must let go.
      transport.send(new CmProtocol.Rej(rep.dstGid(), rep.srcGid(), 0, rep.localCommId(),
          RejectReason.STALE_CONNECTION, new byte[0]));
    } else if (m instanceof CmProtocol.Dreq dreq) {
      // IBTA §12.9.8.3: a DREQ for an unknown connection is answered with DREP.
      transport.send(new CmProtocol.Drep(dreq.dstGid(), dreq.srcGid(), 0, dreq.localCommId(), new byte[0]));
    }
  }

  private void onSidrReq(CmProtocol.SidrReq req) {
    LocalPort at = localGids.get(req.dstGid());
    if (at == null) {
      return;
    }
    SidrKey k = new SidrKey(req.srcGid(), req.requestId());
    if (sidrSeen.containsKey(k)) {
      CmProtocol.SidrRep answered = sidrSeen.get(k);
      if (answered != null) {
        transport.send(answered); // our SIDR_REP was lost
      }
      return;
    }
    ListenerImpl listener = listeners.get(new ListenKey(at.device(), at.port(), req.serviceId()));
    if (listener == null) {
      transport.send(new CmProtocol.SidrRep(req.dstGid(), req.srcGid(), req.requestId(), RejectReason.NO_LISTENER,
          0, 0, new byte[0]));
      return;
    }
    sidrSeen.put(k, null);
    timers.startSingleTimer(new SidrForget(k), new SidrForget(k), cm.settings().connectTimeout());
    SidrRequestImpl request = new SidrRequestImpl(cm, req);
    cm.callbacks().deliver(listener.sink, new CmEvent.SidrRequest(listener, req.srcGid(), req.privateData().clone(),
        request), request::rejectIfUnanswered);
  }

  private void onSidrRep(CmProtocol.SidrRep rep) {
    PendingSidr p = sidrPending.remove(rep.requestId());
    if (p == null) {
      return;
    }
    timers.cancel(new SidrTick(rep.requestId(), false));
    timers.cancel(new SidrTick(rep.requestId(), true));
    if (rep.reason() == null) {
      Replies.complete(cm.replies(), p.result(), new UdRemote(rep.srcGid(), rep.qpn(), rep.qkey(),
          AhAttr.ofGid(p.port(), rep.srcGid()), rep.privateData().clone()));
    } else {
      Replies.fail(cm.replies(), p.result(), new ConnectionRejectedException(rep.reason(), rep.privateData(),
          "SIDR_REQ for service 0x" + Long.toHexString(p.req().serviceId()) + " at " + rep.srcGid()));
    }
  }
}
