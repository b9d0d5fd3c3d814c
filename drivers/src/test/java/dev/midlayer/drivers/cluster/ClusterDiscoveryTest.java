package dev.midlayer.drivers.cluster;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.Gid;
import dev.midlayer.ib.LinkLayer;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.PortState;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ClusterDiscoveryTest {
  private final ClusterNodes nodes = new ClusterNodes("discovery", "");

  @AfterEach
  void stop() {
    nodes.close();
  }

  @Test
  @DisplayName("every node's GID table holds every other node's ports; GIDs are unique and made of uid/device/port")
  void discovery() throws Exception {
    List<ActorSystem<?>> systems = nodes.cluster(3);
    List<ClusterDevice> devices = new ArrayList<>();
    for (int i = 0; i < systems.size(); i++) {
      ClusterFabric f = ClusterFabric.get(systems.get(i));
      devices.add(ClusterNodes.get(f.addDevice("cl%d", 2)));
      if (i == 0) {
        devices.add(ClusterNodes.get(f.addDevice("cl%d", 1))); // a second device on the same node
      }
    }
    Set<Gid> all = new HashSet<>();
    int ports = 0;
    for (ClusterDevice d : devices) {
      for (int p = 1; p <= d.portCount(); p++) {
        all.add(d.gid(p));
        ports++;
        long uid = d.fabric().selfUid();
        assertEquals(ClusterGids.gid(uid, d.number(), p), d.gid(p), "GID derived from uid, device and port");
        assertEquals(uid, ClusterGids.uid(d.gid(p)));
        assertEquals(d.number(), ClusterGids.device(d.gid(p)));
        assertEquals(p, ClusterGids.port(d.gid(p)));
      }
    }
    assertEquals(ports, all.size(), "GIDs unique across the cluster");
    for (ActorSystem<?> s : systems) {
      ClusterFabric f = ClusterFabric.get(s);
      await().atMost(ClusterNodes.DEADLINE).until(() -> f.gids().containsAll(all));
      for (Gid g : all) {
        Route r = f.route(g);
        assertEquals(ClusterGids.uid(g), r.peer().uid, "route of " + g + " names its node");
        assertEquals(ClusterGids.port(g), r.port());
      }
    }
    // Stable for the incarnation: the same GIDs after the table settled, and in the midlayer's port cache.
    for (ClusterDevice d : devices) {
      assertEquals(d.gid(1), d.device().cachedPort(1).gids().get(0));
      assertEquals(ClusterGids.gid(d.fabric().selfUid(), d.number(), 1), d.gid(1));
    }
  }

  @Test
  @DisplayName("ports are RoCE-like (Ethernet, GID, MTU 4096) and ACTIVE once the node is Up")
  void portsActiveAfterUp() throws Exception {
    ActorSystem<?> a = nodes.start("");
    ClusterFabric f = ClusterFabric.get(a);
    ClusterDevice before = ClusterNodes.get(f.addDevice("cl%d", 1));
    assertEquals(PortState.DOWN, before.portState(1), "not Up yet: the port is DOWN");
    ClusterNodes.join(a, a);
    await().atMost(ClusterNodes.DEADLINE).until(() -> before.portState(1) == PortState.ACTIVE);
    await().atMost(ClusterNodes.DEADLINE)
        .until(() -> before.device().cachedPort(1).state() == PortState.ACTIVE);
    ClusterDevice after = ClusterNodes.get(f.addDevice("cl%d", 1));
    assertEquals(PortState.ACTIVE, after.portState(1), "added on an Up node: ACTIVE at once");
    var port = ClusterNodes.get(after.device().queryPort(1));
    assertEquals(LinkLayer.ETHERNET, port.linkLayer());
    assertEquals(Mtu.MTU_4096, port.maxMtu());
    assertEquals(Mtu.MTU_4096, port.activeMtu());
    assertEquals(0, port.lid());
    assertTrue(ClusterGids.isClusterGid(port.gids().get(0)));
    assertEquals("cluster", after.device().driverName());
  }

  @Test
  @DisplayName("whenRoutable completes once discovery publishes the peer's GID, and at once for a known one")
  void whenRoutable() throws Exception {
    ActorSystem<?> a = nodes.start("");
    ClusterNodes.join(a, a);
    ClusterFabric fa = ClusterFabric.get(a);
    ClusterDevice local = ClusterNodes.get(fa.addDevice("cl%d", 1));
    await().atMost(ClusterNodes.DEADLINE).until(() -> fa.gids().contains(local.gid(1)));
    assertTrue(fa.whenRoutable(local.gid(1)).toCompletableFuture().isDone(), "a routable GID: at once");
    ActorSystem<?> b = nodes.start("");
    ClusterFabric fb = ClusterFabric.get(b);
    ClusterDevice remote = ClusterNodes.get(fb.addDevice("cl%d", 1));
    var routable = fa.whenRoutable(remote.gid(1)).toCompletableFuture();
    assertTrue(!routable.isDone(), "the peer is not a member yet: not routable");
    ClusterNodes.join(b, a);
    routable.get(ClusterNodes.DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    assertTrue(fa.gids().contains(remote.gid(1)), "completed only once the route is published");
  }
}
