package dev.midlayer.drivers.cluster;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.PhysPortState;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpType;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.QpContext;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Leave;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Port state and routes follow membership: Up, downed, removed, and the Split Brain Resolver's downing. */
class ClusterMembershipTest {
  private ClusterNodes nodes;

  @AfterEach
  void stop() {
    nodes.close();
  }

  private static ConcurrentLinkedQueue<String> events(ClusterDevice d) throws Exception {
    ConcurrentLinkedQueue<String> q = new ConcurrentLinkedQueue<>();
    ClusterNodes.get(d.device().registerEventHandler("probe", (AsyncEvent e) -> q.add(e.type() + " port "
        + e.portNum() + " " + e.device().cachedPort(e.portNum()).state() + " "
        + e.device().cachedPort(e.portNum()).physState())));
    return q;
  }

  private static int members(ActorSystem<?> s) {
    int n = 0;
    for (var m : Cluster.get(s).state().getMembers()) {
      n++;
    }
    return n;
  }

  @Test
  @DisplayName("a port change between the midlayer's query_port and enable_driver is reported, exactly once; "
      + "phys_state POLLING while joining, LINK_UP when Up, DISABLED once left")
  void portChangeDuringRegistrationIsReported() throws Exception {
    nodes = new ClusterNodes("members-window", "");
    ActorSystem<?> a = nodes.start(""); // not joined yet: the node actor is in joining and the ports are DOWN
    ClusterFabric fabric = ClusterFabric.get(a);
    ClusterDevice dev = fabric.newDevice(1);
    try {
      assertEquals(PortState.DOWN, dev.portState(1), "listed, then set to the node's state: not Up");
      DeviceOps ops = dev.ops(null);
      // The midlayer reads the ports (DOWN), then the node becomes Up (the race this test pins down: a join
      // completing while the device registers), then the midlayer enables the driver. Every change comes from
      // the node actor, the ports' only writer, as in production.
      PortAttributes read = ops.queryPort().queryPort(1);
      assertEquals(PortState.DOWN, read.state());
      assertEquals(PhysPortState.POLLING, read.physState(), "joining: the link is still coming up");
      ClusterNodes.join(a, a);
      ClusterNodes.awaitUp(List.of(a));
      await().atMost(ClusterNodes.DEADLINE).until(() -> dev.portState(1) == PortState.ACTIVE);
      List<String> told = new java.util.concurrent.CopyOnWriteArrayList<>();
      ops.enableDriver().enable(new WindowDriver(read, told));
      assertEquals(List.of("PORT_ACTIVE 1"), told, "the change the midlayer missed, once");
      assertEquals(PhysPortState.LINK_UP, ops.queryPort().queryPort(1).physState());
      // enable_driver makes the node actor reconcile the ports again: the same state, so no event.
      await().atMost(ClusterNodes.DEADLINE).until(() -> fabric.gids().contains(dev.gid(1)));
      assertEquals(List.of("PORT_ACTIVE 1"), told, "no change, no event");
      Cluster.get(a).manager().tell(Leave.create(Cluster.get(a).selfMember().address()));
      await().atMost(ClusterNodes.DEADLINE).until(() -> told.size() >= 2);
      assertEquals(List.of("PORT_ACTIVE 1", "PORT_ERR 1"), told, "the node left: PORT_ERR, once");
      PortAttributes left = ops.queryPort().queryPort(1);
      assertEquals(PortState.DOWN, left.state());
      assertEquals(PhysPortState.DISABLED, left.physState(), "a node that left never joins again");
    } finally {
      fabric.discard(dev);
    }
  }

  /** The midlayer's side as enable_driver sees it: the port cache it read, and the events it is told. */
  private record WindowDriver(PortAttributes cached, List<String> told) implements DriverDevice {
    @Override
    public String name() {
      return "window0";
    }

    @Override
    public DeviceAttributes attributes() {
      return DeviceAttributes.builder().build();
    }

    @Override
    public PortAttributes cachedPort(int portNum) {
      return cached;
    }

    @Override
    public void dispatchPortEvent(AsyncEventType type, int portNum) {
      told.add(type + " " + portNum);
    }

    @Override
    public void dispatchDeviceEvent(AsyncEventType type) {
      told.add(type.toString());
    }

    @Override
    public MemoryKeys memory() {
      throw new UnsupportedOperationException();
    }

    @Override
    public QpContext qp(int qpNum) {
      return null;
    }

    @Override
    public java.util.Collection<QpContext> qps() {
      return List.of();
    }
  }

  @Test
  @DisplayName("PORT_ACTIVE when the node is Up, PORT_ERR when it is downed; the others drop its routes")
  void downedNode() throws Exception {
    nodes = new ClusterNodes("members", "");
    ActorSystem<?> a = nodes.start("");
    ActorSystem<?> b = nodes.start("");
    ActorSystem<?> c = nodes.start("");
    ClusterDevice dc = ClusterNodes.get(ClusterFabric.get(c).addDevice("cl%d", 2));
    ConcurrentLinkedQueue<String> ev = events(dc);
    assertEquals(PortState.DOWN, dc.portState(1));
    WireSide sa = new WireSide(a, QpType.UD, 4096);
    ClusterDevice db = ClusterNodes.get(ClusterFabric.get(b).addDevice("cl%d", 1));
    for (ActorSystem<?> s : List.of(a, b, c)) {
      ClusterNodes.join(s, a);
    }
    ClusterNodes.awaitUp(List.of(a, b, c));
    await().atMost(ClusterNodes.DEADLINE).until(() -> ev.size() == 2);
    assertTrue(ev.containsAll(List.of("PORT_ACTIVE port 1 ACTIVE LINK_UP", "PORT_ACTIVE port 2 ACTIVE LINK_UP")), ev.toString());
    ev.clear();
    for (ActorSystem<?> s : List.of(a, b)) {
      await().atMost(ClusterNodes.DEADLINE).until(() -> ClusterFabric.get(s).gids().contains(dc.gid(2)));
    }
    Endpoint toC = sa.link.datagram(AhAttr.ofGid(1, dc.gid(1)), 5);
    await().atMost(ClusterNodes.DEADLINE).until(toC::up);

    Cluster.get(a).manager().tell(new Down(Cluster.get(c).selfMember().address()));

    await().atMost(ClusterNodes.DEADLINE).until(() -> ev.size() == 2);
    assertTrue(ev.containsAll(List.of("PORT_ERR port 1 DOWN DISABLED", "PORT_ERR port 2 DOWN DISABLED")), ev.toString());
    assertEquals(PortState.DOWN, dc.portState(1));
    // What run-coordinated-shutdown-when-down (on in production) would do now: a downed incarnation that kept
    // running would quarantine the others once it removed them from its view, and their SBR would down them.
    c.terminate();
    ClusterNodes.get(c.getWhenTerminated());
    for (ActorSystem<?> s : List.of(a, b)) {
      await().atMost(ClusterNodes.DEADLINE).until(() -> !ClusterFabric.get(s).gids().contains(dc.gid(1))
          && !ClusterFabric.get(s).gids().contains(dc.gid(2)));
    }
    assertFalse(toC.up(), "an endpoint of the removed node is down for good");
    assertNull(sa.link.datagram(AhAttr.ofGid(1, dc.gid(1)), 5), "no route any more");
    assertTrue(ClusterFabric.get(a).gids().contains(db.gid(1)), "the others keep theirs");
    assertEquals(PortState.ACTIVE, sa.device.portState(1));
  }

  @Test
  @DisplayName("the Split Brain Resolver downs a node that vanished; its routes disappear, a new incarnation gets new GIDs")
  void splitBrainResolverRemovesACrashedNode() throws Exception {
    nodes = new ClusterNodes("sbr", "");
    ActorSystem<?> a = nodes.start("");
    ActorSystem<?> b = nodes.start("");
    // This node stops without leaving, as if its JVM died: the others see it unreachable.
    ActorSystem<?> c = nodes.start("pekko.coordinated-shutdown.run-by-actor-system-terminate = off");
    for (ActorSystem<?> s : List.of(a, b, c)) {
      ClusterNodes.join(s, a);
    }
    ClusterNodes.awaitUp(List.of(a, b, c));
    ClusterDevice dc = ClusterNodes.get(ClusterFabric.get(c).addDevice("cl%d", 1));
    await().atMost(ClusterNodes.DEADLINE).until(() -> ClusterFabric.get(a).gids().contains(dc.gid(1)));
    c.terminate();
    await().atMost(ClusterNodes.DEADLINE).until(() -> members(a) == 2);
    await().atMost(ClusterNodes.DEADLINE).until(() -> !ClusterFabric.get(a).gids().contains(dc.gid(1))
        && !ClusterFabric.get(b).gids().contains(dc.gid(1)));

    ActorSystem<?> c2 = nodes.start("");
    ClusterNodes.join(c2, a);
    ClusterNodes.awaitUp(List.of(a, b, c2));
    ClusterDevice dc2 = ClusterNodes.get(ClusterFabric.get(c2).addDevice("cl%d", 1));
    assertFalse(dc2.gid(1).equals(dc.gid(1)), "a new incarnation, new GIDs");
    await().atMost(ClusterNodes.DEADLINE).until(() -> dc2.portState(1) == PortState.ACTIVE
        && ClusterFabric.get(a).gids().contains(dc2.gid(1)));
  }
}
