package dev.midlayer.drivers.cluster;

import dev.midlayer.Midlayer;
import dev.midlayer.drivers.engine.EngineQp;
import dev.midlayer.drivers.engine.EngineSettings;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortState;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The cluster fabric of one node: a Pekko extension of an actor system whose provider is {@code cluster}. Its
 * devices register with the node's midlayer; their ports are reachable from every node of the cluster, by GID
 * ({@link ClusterGids}: uid of this incarnation, device number, port). Discovery is through the Receptionist, port
 * state follows membership, packets travel in frames over Artery (see the module's README, "Cluster driver:
 * wire, discovery, credits").
 *
 * <p>Threading: every method is safe from any thread. {@link #addDevice} and {@link #removeDevice} register with
 * the midlayer and <b>may sleep</b> (not from atomic context); the others never block ({@link #route} is one
 * volatile read and a map lookup: what the data path calls).
 */
public final class ClusterFabric implements Extension {
  /** The vendor id of the cluster devices: 0xFFFFFF, as Linux rxe reports (a software device, no OUI). */
  public static final int VENDOR_ID = 0xFFFFFF;

  /** The extension id. */
  public static final class Id extends ExtensionId<ClusterFabric> {
    private static final Id INSTANCE = new Id();

    private Id() {}

    /** The singleton. Never blocks; any thread. */
    public static Id getInstance() {
      return INSTANCE;
    }

    @Override
    public ClusterFabric createExtension(ActorSystem<?> system) {
      return new ClusterFabric(system);
    }
  }

  /** Counters of the node's inbound actor (its one writer), for tests and reports. */
  static final class InboundStats {
    volatile long framesReceived;
    volatile long framesDropped;
    volatile long packetsDelivered;
    volatile long packetsDropped;
    volatile long segmentsDropped;
    volatile long messagesLost;
  }

  private final ActorSystem<?> system;
  private final Midlayer midlayer;
  private final ClusterSettings settings;
  private final long selfUid;
  private final Transfers transfers = new Transfers();
  private final AtomicInteger nextDevice = new AtomicInteger();
  private final AtomicLong nextSender = new AtomicLong();
  private final List<ClusterDevice> devices = new CopyOnWriteArrayList<>();
  private final Map<Integer, ClusterDevice> byNumber = new ConcurrentHashMap<>();
  /** Every known node (this one included), by incarnation uid. Written by the directory actor only. */
  final Map<Long, Peer> peers = new ConcurrentHashMap<>();
  final InboundStats stats = new InboundStats();
  /** The GID table, replaced whole by the directory actor: lock-free reads. */
  private volatile Map<Gid, Route> routes = Map.of();
  /** Callers of {@link #whenRoutable} whose GID was not routable yet; completed by {@link #publish}. */
  private final ConcurrentLinkedQueue<RouteWaiter> routeWaiters = new ConcurrentLinkedQueue<>();
  private final AtomicLong routesVersion = new AtomicLong();
  private volatile boolean selfUp;
  /** True once this node left, was downed or removed (the node actor's gone state): its ports stay DOWN. */
  private volatile boolean selfGone;
  /** The fault plan of this node's QPs, or null; read once per engine turn. */
  private volatile FaultPlan faultPlan;
  /** The engine's create_qp, with this node's timer scale, batch size and fault plan. */
  private final EngineQps engineQps;
  private final ActorRef<Inbound.Command> inbound;
  private final ActorRef<NodeActor.Command> node;

  private ClusterFabric(ActorSystem<?> system) {
    this.system = system;
    this.settings = ClusterSettings.from(system.settings().config());
    this.midlayer = Midlayer.get(system);
    this.engineQps = new EngineQps(new EngineSettings(settings.timerScale(), settings.maxBatch(), this::faultPlan));
    this.selfUid = Cluster.get(system).selfMember().uniqueAddress().longUid();
    DispatcherSelector dispatcher = DispatcherSelector.fromConfig(settings.dispatcher());
    this.inbound = system.systemActorOf(Inbound.create(this), ClusterSettings.DATA_ACTOR, dispatcher);
    this.node = system.systemActorOf(NodeActor.create(this), "midlayer-cluster-node", dispatcher);
  }

  /** The fabric of {@code system}'s node, created on first use. Never blocks but the first time; any thread. */
  public static ClusterFabric get(ActorSystem<?> system) {
    return Id.getInstance().apply(system);
  }

  /** The midlayer the fabric's devices register with. Never blocks; any thread. */
  public Midlayer midlayer() {
    return midlayer;
  }

  /** The uid of this node's incarnation ({@code SelfUniqueAddress}), which its GIDs hold. Never blocks; any thread. */
  public long selfUid() {
    return selfUid;
  }

  /**
   * The incarnation uid ({@code UniqueAddress.longUid}, as in cluster membership events) of the node whose port
   * {@code gid} is, or 0 for a GID that is not a cluster fabric's: so that a consumer can tell which member's
   * leaving ends its connections. Never blocks; any thread.
   */
  public static long nodeUid(Gid gid) {
    return gid != null && ClusterGids.isClusterGid(gid) ? ClusterGids.uid(gid) : 0;
  }

  /** True while this node is an Up member (its ports are ACTIVE). Never blocks; any thread. */
  public boolean isUp() {
    return selfUp;
  }

  /**
   * Builds a device with {@code ports} ports whose QPs run the shared transport engine over the cluster wire,
   * and registers it. The stage completes once every client was added. <b>May sleep</b>; not from atomic
   * context.
   */
  public CompletionStage<ClusterDevice> addDevice(String name, int ports) {
    return addDevice(name, ports, engineQps);
  }

  /**
   * Installs {@code plan} at the link of every QP of this node's devices (requests, ACKs and NAKs they send),
   * replacing the plan before; see the module's README, "Fault injection". <b>Never blocks</b> (one volatile
   * write); any thread and any context.
   */
  public void faults(FaultPlan plan) {
    this.faultPlan = InvalidArgumentException.requireNonNull(plan, "plan");
  }

  /** Removes the fault plan. <b>Never blocks</b>; any thread and any context. */
  public void clearFaults() {
    this.faultPlan = null;
  }

  /** The installed fault plan, or null. <b>Never blocks</b> (one volatile read); any thread. */
  public FaultPlan faultPlan() {
    return faultPlan;
  }

  /**
   * Builds a device with {@code ports} ports (1..255) and registers it with the midlayer; {@code qps}, if not
   * null, is its {@code create_qp}: where the transport engine plugs in (it makes each QP's
   * {@link ClusterDevice#link link} and {@link ClusterDevice#bind binds} its sink). The stage completes once
   * every client was added. The ports are ACTIVE if this node is Up, DOWN until it is. <b>May sleep</b>; not
   * from atomic context.
   */
  public CompletionStage<ClusterDevice> addDevice(String name, int ports, ClusterDevice.QpFactory qps) {
    InvalidArgumentException.requireNonNull(name, "name");
    if (ports < 1 || ports > 255) {
      throw new InvalidArgumentException("ports", "must be 1..255, was " + ports);
    }
    ClusterDevice device = newDevice(ports);
    CompletionStage<dev.midlayer.device.Device> registration;
    try {
      registration = midlayer.registerDevice(name, device.ops(qps));
    } catch (RuntimeException refused) {
      forget(device);
      throw refused;
    }
    return registration.whenComplete((d, failure) -> {
      if (failure != null) {
        forget(device);
      }
    }).thenApply(d -> {
      device.registered(d);
      return device;
    });
  }

  /**
   * A new device, listed (so the node actor's port reconciliation sees it) and then set to this node's state:
   * read after listing, and again after setting, so a node that came Up (or went) meanwhile is followed.
   * Not registered with the midlayer yet. Never blocks.
   */
  ClusterDevice newDevice(int ports) {
    ClusterDevice device = new ClusterDevice(this, nextDevice.getAndIncrement(), ports);
    byNumber.put(device.number(), device);
    devices.add(device);
    boolean up;
    do {
      up = isUp();
      for (int p = 1; p <= ports; p++) {
        device.portState(p, up ? PortState.ACTIVE : PortState.DOWN);
      }
    } while (isUp() != up);
    return device;
  }

  /** Drops a device {@link #newDevice} made that was never registered (tests). */
  void discard(ClusterDevice device) {
    forget(device);
  }

  /** Unregisters the device and takes its ports off the cluster. <b>May sleep</b>; not from atomic context. */
  public CompletionStage<Done> removeDevice(ClusterDevice device) {
    InvalidArgumentException.requireNonNull(device, "device");
    return midlayer.unregisterDevice(device.device()).thenApply(done -> {
      forget(device);
      return done;
    });
  }

  private void forget(ClusterDevice device) {
    devices.remove(device);
    byNumber.remove(device.number(), device);
    devicesChanged();
  }

  /** The fabric's devices on this node, in the order they were added. Never blocks; any thread. */
  public List<ClusterDevice> devices() {
    return List.copyOf(devices);
  }

  /** Every GID the fabric can route to now: this node's ports and the ports of every known peer. Never blocks. */
  public Set<Gid> gids() {
    return routes.keySet();
  }

  /**
   * Completes once the fabric can route to {@code gid} (it is in {@link #gids()}): at once if it can now, else when
   * discovery publishes it, as {@code rdma_resolve_route} does for a path. Connect through the CM first, then
   * wait for the peer's GID here before the first send: a packet to a GID not yet discovered is dropped (RC
   * resends it within its retry budget; UC and UD lose it). The stage never fails by itself; bound it with
   * {@code orTimeout}. <b>Never blocks</b>; any thread and any context.
   */
  public CompletionStage<Done> whenRoutable(Gid gid) {
    InvalidArgumentException.requireNonNull(gid, "gid");
    CompletableFuture<Done> routable = new CompletableFuture<>();
    routeWaiters.add(new RouteWaiter(gid, routable));
    // Added before the look-up: a publish between the two completes the waiter, one before is seen here.
    completeRouteWaiters();
    return routable;
  }

  private record RouteWaiter(Gid gid, CompletableFuture<Done> routable) {}

  private void completeRouteWaiters() {
    Map<Gid, Route> now = routes;
    for (RouteWaiter w : routeWaiters) {
      if (w.routable().isDone()) {
        routeWaiters.remove(w);
      } else if (now.containsKey(w.gid())) {
        routeWaiters.remove(w);
        w.routable().complete(Done.getInstance());
      }
    }
  }

  /** Where {@code gid} lives, or null: lock-free (one volatile read), any thread, never blocks. */
  Route route(Gid gid) {
    return routes.get(gid);
  }

  long routesVersion() {
    return routesVersion.get();
  }

  void publish(Map<Gid, Route> table) {
    routes = Map.copyOf(table);
    routesVersion.incrementAndGet();
    if (!routeWaiters.isEmpty()) {
      completeRouteWaiters();
    }
  }

  Peer peer(long uid) {
    return peers.get(uid);
  }

  ClusterDevice localDevice(int number) {
    return byNumber.get(number);
  }

  /**
   * The devices' memory fence: waits for the frames being encoded from registered memory (Artery's thread) and
   * for the engine steps of this node's QPs that copy registered memory (a responder placing an arriving WRITE
   * runs on its QP's actor, not under the frame's bracket). <b>May sleep</b>; the device actor.
   */
  void awaitTransfers() {
    transfers.await();
    for (ClusterDevice d : devices) {
      EngineQp.awaitTransfers(d.driverDevice());
    }
  }

  ClusterSettings settings() {
    return settings;
  }

  Transfers transfers() {
    return transfers;
  }

  ActorRef<Inbound.Command> inbound() {
    return inbound;
  }

  ActorSystem<?> system() {
    return system;
  }

  void selfUp(boolean up) {
    selfUp = up;
  }

  boolean selfUpNow() {
    return selfUp;
  }

  /** Set by the node actor before it reconciles the ports: true in its gone state, false once Up. */
  void selfGone(boolean gone) {
    selfGone = gone;
  }

  /** True while this node is gone (left, downed or removed); false while it joins or is Up. Never blocks. */
  boolean selfGoneNow() {
    return selfGone;
  }

  long nextSenderId() {
    return nextSender.incrementAndGet();
  }

  /** A device's driver was enabled, or a device went away: the directory actor republishes. Never blocks. */
  void devicesChanged() {
    node.tell(NodeActor.DevicesChanged.INSTANCE);
  }
}
