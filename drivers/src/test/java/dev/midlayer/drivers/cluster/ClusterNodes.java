package dev.midlayer.drivers.cluster;

import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.monitor.ContractMonitor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

/**
 * Cluster nodes for the tests: actor systems in this JVM with {@code cluster-test.conf} (Artery TCP on
 * 127.0.0.1, a free port each, the Split Brain Resolver), joined programmatically. Waits are Awaitility polls
 * with a deadline, never sleeps. Closing shuts every node down and asks each node's contract monitor for its
 * verdict (any violation but the leftovers of objects no client made fails the test).
 */
final class ClusterNodes implements AutoCloseable {
  static final Duration DEADLINE = Duration.ofSeconds(30);

  final List<ActorTestKit> kits = new ArrayList<>();
  private final String name;
  private final Config extra;

  ClusterNodes(String name, String extraConfig) {
    this.name = name;
    this.extra = ConfigFactory.parseString(extraConfig);
  }

  /** A new node (not joined yet); {@code more} goes on top of this fixture's config. */
  ActorSystem<?> start(String more) {
    Config c = ConfigFactory.parseString(more).withFallback(extra)
        .withFallback(ConfigFactory.parseResources("cluster-test.conf")).withFallback(ConfigFactory.load());
    ActorTestKit kit = ActorTestKit.create(name, c);
    kits.add(kit);
    return kit.system();
  }

  /** Starts {@code n} nodes and joins them into one cluster; returns once each sees all n Up. */
  List<ActorSystem<?>> cluster(int n) {
    List<ActorSystem<?>> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      nodes.add(start(""));
    }
    for (ActorSystem<?> s : nodes) {
      join(s, nodes.get(0));
    }
    awaitUp(nodes);
    return nodes;
  }

  static void join(ActorSystem<?> node, ActorSystem<?> seed) {
    Cluster.get(node).manager().tell(Join.create(Cluster.get(seed).selfMember().address()));
  }

  static void awaitUp(List<ActorSystem<?>> nodes) {
    for (ActorSystem<?> s : nodes) {
      await().atMost(DEADLINE).until(() -> upCount(s) == nodes.size());
    }
  }

  static long upCount(ActorSystem<?> s) {
    long up = 0;
    for (var m : Cluster.get(s).state().getMembers()) {
      if (m.status() == MemberStatus.up()) {
        up++;
      }
    }
    return up;
  }

  static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    // Last node first: the seed leaves after the others, so no one waits for a leader that is gone.
    for (int i = kits.size() - 1; i >= 0; i--) {
      kits.get(i).shutdownTestKit();
    }
    for (ActorTestKit k : kits) {
      ContractMonitor m = Midlayer.get(k.system()).monitor();
      if (m == null) {
        throw new AssertionError("no contract monitor is attached: midlayer.monitor.attach should be on in tests");
      }
      m.assertNone(k.system().name(), java.util.Set.of(), true);
    }
  }
}
