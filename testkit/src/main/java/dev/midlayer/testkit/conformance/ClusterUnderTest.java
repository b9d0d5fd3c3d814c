package dev.midlayer.testkit.conformance;

import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterDevice;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.testkit.MidlayerTestKit;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

/**
 * The cluster driver under the conformance suite: the kit's actor system is a cluster node, and (with
 * {@code twoNodes}) a second actor system in this JVM joins it on the first device; devices alternate between
 * the nodes. See {@link DriverUnderTest#cluster()}.
 */
final class ClusterUnderTest implements DriverUnderTest {
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  /** A cluster node on Artery TCP at 127.0.0.1 with a free port; the Split Brain Resolver downs, never auto-down. */
  private static final String CONFIG = String.join("\n",
      "pekko.actor.provider = cluster",
      "pekko.remote.artery.transport = tcp",
      "pekko.remote.artery.canonical.hostname = \"127.0.0.1\"",
      "pekko.remote.artery.canonical.port = 0",
      "pekko.cluster.downing-provider-class = \"org.apache.pekko.cluster.sbr.SplitBrainResolverProvider\"",
      "pekko.cluster.split-brain-resolver.active-strategy = keep-oldest",
      "pekko.cluster.split-brain-resolver.keep-oldest.down-if-alone = on",
      "pekko.cluster.split-brain-resolver.stable-after = 2s",
      "pekko.cluster.jmx.enabled = off",
      "pekko.cluster.log-info = off",
      // Fast membership and discovery, so that each contract test's two-node cluster forms in a fraction of a
      // second (Pekko's defaults suit real networks: 1 s gossip, 2 s distributed-data gossip).
      "pekko.cluster.periodic-tasks-initial-delay = 10ms",
      "pekko.cluster.gossip-interval = 100ms",
      "pekko.cluster.leader-actions-interval = 100ms",
      "pekko.cluster.distributed-data.gossip-interval = 100ms",
      "pekko.cluster.distributed-data.notify-subscribers-interval = 20ms",
      "pekko.coordinated-shutdown.phases.cluster-exiting.timeout = 2s",
      // 0.01, not the loopback's 0.001: an 8 MiB WRITE takes tens of ms on this wire, longer than a scaled ACK
      // timeout of code 24 at 0.001 (68 ms), which would resend it while it is still arriving.
      "midlayer.cluster.timer-scale = 0.01",
      "midlayer.loopback.timer-scale = 0.001");

  /** One instance per mode: a contract asks {@code driver()} more than once and must find its kit's nodes. */
  static final ClusterUnderTest TWO_NODES = new ClusterUnderTest(true);
  static final ClusterUnderTest ONE_NODE = new ClusterUnderTest(false);

  private final boolean twoNodes;
  /** Per kit: its peer node (null until the first device), and how many devices were added. */
  private final Map<MidlayerTestKit, Nodes> nodes = java.util.Collections.synchronizedMap(new IdentityHashMap<>());

  private ClusterUnderTest(boolean twoNodes) {
    this.twoNodes = twoNodes;
  }

  private static final class Nodes {
    ActorTestKit peer;
    int added;
  }

  @Override
  public double timerScale() {
    return 0.01;
  }

  @Override
  public String name() {
    return twoNodes ? "cluster" : "cluster-one-node";
  }

  @Override
  public Config config() {
    return ConfigFactory.parseString(CONFIG);
  }

  @Override
  public Device addDevice(MidlayerTestKit kit, int ports) {
    Nodes n = nodes.computeIfAbsent(kit, k -> start(k));
    ActorSystem<?> on = twoNodes && n.added++ % 2 == 1 ? n.peer.system() : kit.testKit().system();
    ClusterDevice d;
    try {
      d = ClusterFabric.get(on).addDevice("cl%d", ports).toCompletableFuture()
          .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("could not add a cluster device", e);
    }
    // Every node routes to the new ports before the contract sends: the discovery a subnet manager (or ARP)
    // completes before traffic. UC and UD have no retransmission to hide packets sent before it.
    for (ActorSystem<?> s : systems(kit)) {
      for (int p = 1; p <= ports; p++) {
        var gid = d.gid(p);
        await().atMost(DEADLINE).until(() -> ClusterFabric.get(s).gids().contains(gid));
      }
    }
    return d.device();
  }

  private Nodes start(MidlayerTestKit kit) {
    Nodes n = new Nodes();
    ActorSystem<?> self = kit.testKit().system();
    Cluster.get(self).manager().tell(Join.create(Cluster.get(self).selfMember().address()));
    if (twoNodes) {
      n.peer = ActorTestKit.create(self.name(), self.settings().config());
      Cluster.get(n.peer.system()).manager().tell(Join.create(Cluster.get(self).selfMember().address()));
    }
    List<ActorSystem<?>> all = twoNodes ? List.of(self, n.peer.system()) : List.of(self);
    for (ActorSystem<?> s : all) {
      await().atMost(DEADLINE).until(() -> upCount(s) == all.size() && ClusterFabric.get(s).isUp());
    }
    return n;
  }

  private static long upCount(ActorSystem<?> s) {
    long up = 0;
    for (var m : Cluster.get(s).state().getMembers()) {
      if (m.status() == MemberStatus.up()) {
        up++;
      }
    }
    return up;
  }

  @Override
  public void removeDevice(MidlayerTestKit kit, Device device) {
    ClusterDevice d = of(kit, device);
    try {
      d.fabric().removeDevice(d).toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("could not remove " + device, e);
    }
  }

  @Override
  public boolean isRegistered(MidlayerTestKit kit, Device d) {
    Nodes n = nodes.get(kit);
    return kit.midlayer().devices().contains(d)
        || (n != null && n.peer != null && Midlayer.get(n.peer.system()).devices().contains(d));
  }

  @Override
  public void close(MidlayerTestKit kit) {
    Nodes n = nodes.remove(kit);
    if (n != null && n.peer != null) {
      n.peer.shutdownTestKit();
    }
  }

  @Override
  public Midlayer midlayerOf(MidlayerTestKit kit, Device d) {
    return Midlayer.get(of(kit, d).fabric().midlayer().system());
  }

  @Override
  public boolean stableAddresses() {
    return false;
  }

  @Override
  public boolean sendCompletionMeansDelivered() {
    return false;
  }

  @Override
  public boolean supportsFaultInjection() {
    return true;
  }

  @Override
  public void faults(MidlayerTestKit kit, FaultPlan plan) {
    for (ActorSystem<?> s : systems(kit)) {
      ClusterFabric.get(s).faults(plan);
    }
  }

  @Override
  public void clearFaults(MidlayerTestKit kit) {
    for (ActorSystem<?> s : systems(kit)) {
      ClusterFabric.get(s).clearFaults();
    }
  }

  private List<ActorSystem<?>> systems(MidlayerTestKit kit) {
    Nodes n = nodes.get(kit);
    return n == null || n.peer == null ? List.of(kit.testKit().system())
        : List.of(kit.testKit().system(), n.peer.system());
  }

  private ClusterDevice of(MidlayerTestKit kit, Device d) {
    for (ActorSystem<?> s : systems(kit)) {
      for (ClusterDevice c : ClusterFabric.get(s).devices()) {
        if (c.device() == d) {
          return c;
        }
      }
    }
    throw new IllegalArgumentException(d + " is not a cluster device of this kit");
  }

  @Override
  public String toString() {
    return name();
  }
}
