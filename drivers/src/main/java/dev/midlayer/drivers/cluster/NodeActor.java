package dev.midlayer.drivers.cluster;

import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * A node's directory actor ({@code /system/midlayer-cluster-node}): registered with the Receptionist under
 * {@link #KEY}, it sends this node's {@link Wire.Directory} to every other node the listing shows, keeps the
 * peers' directories, and publishes the GID table ({@link ClusterFabric#route}) that the data path reads
 * without locks. It follows membership: a peer's routes are up while its member is Up and disappear when it is
 * removed; this node's ports are ACTIVE while it is Up and raise PORT_ERR when it leaves, is downed or removed.
 * It also forwards peers' credit grants to the senders.
 *
 * <p>Three states, one behaviour each: {@link #joining()} (this node is not Up yet: ports DOWN),
 * {@link #up()} (ports ACTIVE), {@link #gone()} (left, downed or removed: ports DOWN). Everything is confined
 * to the actor.
 */
final class NodeActor {
  /** The service key every node's directory actor registers under. */
  static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "midlayer-cluster-fabric");

  sealed interface Command permits Wire.Directory, Wire.Credit, Listing, MemberChange, DevicesChanged {}

  /** The Receptionist's current listing of {@link #KEY}. */
  record Listing(Set<ActorRef<Command>> refs) implements Command {}

  /** A membership event. */
  record MemberChange(ClusterEvent.MemberEvent event) implements Command {}

  /** A local device was added (its driver enabled) or removed. */
  enum DevicesChanged implements Command {
    INSTANCE
  }

  private final ClusterFabric fabric;
  private final ActorContext<Command> ctx;
  private final Peer selfPeer;
  private final Map<Long, Wire.Directory> directories = new HashMap<>();
  private final Set<Long> upMembers = new HashSet<>();
  /** Uids of removed members: a late directory of theirs must not bring their routes back. */
  private final Set<Long> removed = new HashSet<>();
  /** The directory actors this node sent its directory to. */
  private final Set<ActorRef<Command>> told = new HashSet<>();
  private long version;

  private NodeActor(ClusterFabric fabric, ActorContext<Command> ctx) {
    this.fabric = fabric;
    this.ctx = ctx;
    this.selfPeer = newPeer(fabric.selfUid(), true);
    selfPeer.actors(ctx.getSelf(), fabric.inbound());
    fabric.peers.put(fabric.selfUid(), selfPeer);
  }

  static Behavior<Command> create(ClusterFabric fabric) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
      ctx.getSystem().receptionist().tell(Receptionist.subscribe(KEY,
          ctx.messageAdapter(Receptionist.Listing.class, l -> new Listing(l.getServiceInstances(KEY)))));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberChange::new), ClusterEvent.MemberEvent.class));
      NodeActor node = new NodeActor(fabric, ctx);
      node.publish();
      return node.joining();
    });
  }

  // ---- states ----

  private Behavior<Command> joining() {
    fabric.selfUp(false);
    selfPeer.up(false);
    return common().onMessage(MemberChange.class, m -> {
      Member who = m.event().member();
      if (isSelf(who)) {
        if (m.event() instanceof ClusterEvent.MemberUp) {
          return up();
        } else if (leaving(m.event())) {
          return gone();
        }
        return Behaviors.same();
      }
      return peerChange(m.event());
    }).build();
  }

  private Behavior<Command> up() {
    fabric.selfGone(false);
    fabric.selfUp(true);
    selfPeer.up(true);
    reconcilePorts();
    return common().onMessage(MemberChange.class, m -> {
      if (isSelf(m.event().member())) {
        return leaving(m.event()) ? gone() : Behaviors.same();
      }
      return peerChange(m.event());
    }).build();
  }

  private Behavior<Command> gone() {
    fabric.selfGone(true); // before the ports go DOWN: the cache refreshed for PORT_ERR reads DISABLED
    fabric.selfUp(false);
    selfPeer.up(false);
    reconcilePorts();
    return common().onMessage(MemberChange.class, m -> {
      if (isSelf(m.event().member())) {
        // Pekko never lets a removed incarnation rejoin; Up again would only come from a new one.
        return m.event() instanceof ClusterEvent.MemberUp ? up() : Behaviors.same();
      }
      return peerChange(m.event());
    }).build();
  }

  private static boolean leaving(ClusterEvent.MemberEvent e) {
    return e instanceof ClusterEvent.MemberLeft || e instanceof ClusterEvent.MemberExited
        || e instanceof ClusterEvent.MemberDowned || e instanceof ClusterEvent.MemberRemoved;
  }

  private boolean isSelf(Member m) {
    return m.uniqueAddress().longUid() == fabric.selfUid();
  }

  // ---- what every state does ----

  private BehaviorBuilder<Command> common() {
    return Behaviors.receive(Command.class)
        .onMessage(Wire.Directory.class, d -> {
          onDirectory(d);
          return Behaviors.same();
        })
        .onMessage(Wire.Credit.class, c -> {
          Peer p = fabric.peer(c.fromUid());
          if (p != null) {
            p.outbound().tell(new Outbound.Grant(c.upTo()));
          }
          return Behaviors.same();
        })
        .onMessage(Listing.class, l -> {
          onListing(l.refs());
          return Behaviors.same();
        })
        .onMessageEquals(DevicesChanged.INSTANCE, () -> {
          version++;
          reconcilePorts();
          publish();
          Wire.Directory mine = directory();
          told.forEach(r -> r.tell(mine));
          return Behaviors.same();
        });
  }

  private void onListing(Set<ActorRef<Command>> refs) {
    Wire.Directory mine = null;
    for (ActorRef<Command> r : refs) {
      if (!r.equals(ctx.getSelf()) && told.add(r)) {
        mine = mine == null ? directory() : mine;
        r.tell(mine);
      }
    }
    told.retainAll(refs);
    // A directory actor the listing dropped: its node is gone (or its system stopped), and so are its routes.
    // Only one the listing showed before: a node's directory can arrive before the Receptionist's replica here
    // lists it, and dropping it then would lose it for good (it has told us already and will not again).
    for (Wire.Directory d : List.copyOf(directories.values())) {
      if (!refs.contains(d.control()) && listed.contains(d.control())) {
        removePeer(d.uid(), false);
      }
    }
    listed = Set.copyOf(refs);
  }

  /** The directory actors of the last Receptionist listing. */
  private Set<ActorRef<Command>> listed = Set.of();

  private void onDirectory(Wire.Directory d) {
    if (d.uid() == fabric.selfUid() || removed.contains(d.uid())) {
      return;
    }
    Wire.Directory before = directories.get(d.uid());
    if (before != null && before.version() >= d.version()) {
      return;
    }
    directories.put(d.uid(), d);
    Peer p = fabric.peer(d.uid());
    if (p == null) {
      p = newPeer(d.uid(), false);
      fabric.peers.put(d.uid(), p);
    }
    p.actors(d.control(), d.data());
    p.up(upMembers.contains(d.uid()));
    publish();
    if (told.add(d.control())) {
      d.control().tell(directory());
    }
  }

  private Behavior<Command> peerChange(ClusterEvent.MemberEvent e) {
    long uid = e.member().uniqueAddress().longUid();
    Peer p = fabric.peer(uid);
    if (e instanceof ClusterEvent.MemberUp) {
      upMembers.add(uid);
      if (p != null) {
        p.up(true);
      }
    } else if (e instanceof ClusterEvent.MemberRemoved) {
      removePeer(uid, true);
    } else if (leaving(e) || e instanceof ClusterEvent.MemberWeaklyUp) {
      upMembers.remove(uid);
      if (p != null) {
        p.up(false);
      }
    }
    return Behaviors.same();
  }

  private void removePeer(long uid, boolean forever) {
    upMembers.remove(uid);
    if (forever) {
      removed.add(uid);
    }
    Wire.Directory d = directories.remove(uid);
    if (d != null) {
      told.remove(d.control());
    }
    Peer p = fabric.peers.remove(uid);
    if (p != null) {
      p.remove();
      ctx.stop(p.outbound());
    }
    publish();
  }

  private Peer newPeer(long uid, boolean self) {
    Peer p = new Peer(uid, self);
    p.attach(new FrameSender(p, fabric.selfUid(), fabric.settings()), ctx.spawn(Outbound.create(p, fabric.settings()),
        "to-" + Long.toHexString(uid) + "-" + fabric.nextSenderId(),
        DispatcherSelector.fromConfig(fabric.settings().dispatcher())));
    return p;
  }

  /** This node's directory now. */
  private Wire.Directory directory() {
    List<Wire.PortEntry> ports = new ArrayList<>();
    for (ClusterDevice d : fabric.devices()) {
      for (int port = 1; port <= d.portCount(); port++) {
        ports.add(new Wire.PortEntry(d.number(), port, d.gid(port), d.activeMtu().bytes()));
      }
    }
    return new Wire.Directory(fabric.selfUid(), ctx.getSelf(), fabric.inbound(), version, ports);
  }

  /** Publishes the GID table: the local devices' ports and every known peer's. */
  private void publish() {
    Map<Gid, Route> table = new HashMap<>();
    for (ClusterDevice d : fabric.devices()) {
      for (int port = 1; port <= d.portCount(); port++) {
        table.put(d.gid(port), new Route(d.gid(port), selfPeer, d.number(), port, d.activeMtu().bytes()));
      }
    }
    for (Wire.Directory d : directories.values()) {
      Peer p = fabric.peer(d.uid());
      for (Wire.PortEntry e : d.ports()) {
        table.put(e.gid(), new Route(e.gid(), p, e.device(), e.port(), e.mtu()));
      }
    }
    fabric.publish(table);
  }

  /** Every local port to the state this node's membership says, with PORT_ACTIVE / PORT_ERR on changes. */
  private void reconcilePorts() {
    PortState want = fabric.selfUpNow() ? PortState.ACTIVE : PortState.DOWN;
    for (ClusterDevice d : fabric.devices()) {
      for (int port = 1; port <= d.portCount(); port++) {
        d.portState(port, want);
      }
    }
  }
}
