package dev.midlayer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.cluster.typed.JoinSeedNodes;

/**
 * A midlayer node of a Pekko cluster, as the command line starts one: an actor system named {@code midlayer} on
 * Artery TCP at a host and port, the {@code midlayer-node.conf} settings (Split Brain Resolver downing, never
 * auto-down) over the command line's, joined to the given seed nodes, or a new cluster of its own when there are
 * none.
 */
public final class ClusterNode {
  private ClusterNode() {}

  /** The system's name on every node: part of each node's address. */
  public static final String SYSTEM = "midlayer";

  /** The node's configuration: Artery on {@code host:port} (0: any free port) over {@code midlayer-node.conf}.
   * Never blocks; any thread. */
  public static Config config(String host, int port) {
    return ConfigFactory.parseString(
        "pekko.remote.artery.canonical.hostname = \"" + host + "\"\n"
            + "pekko.remote.artery.canonical.port = " + port + "\n")
        .withFallback(ConfigFactory.load("midlayer-node"));
  }

  /**
   * Starts the node's actor system on {@code host:port}, with the admin actor {@code midlayer stat} and
   * {@code midlayer res} ask ({@link NodeAdmin}). May sleep (it binds Artery's port): from a thread of the
   * caller's own, not from an actor's turn or a midlayer callback.
   */
  public static ActorSystem<Void> start(String host, int port) {
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), SYSTEM, config(host, port));
    NodeAdmin.start(system);
    return system;
  }

  /**
   * Joins {@code seeds} ({@code host:port} each), or forms a new cluster when there are none; the stage completes
   * when this node is Up. Never blocks; any thread.
   */
  public static CompletableFuture<Void> join(ActorSystem<?> system, List<String[]> seeds) {
    CompletableFuture<Void> up = new CompletableFuture<>();
    org.apache.pekko.cluster.Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(() -> up.complete(null));
    Cluster cluster = Cluster.get(system);
    if (seeds.isEmpty()) {
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
    } else {
      List<Address> addresses = new ArrayList<>();
      for (String[] hp : seeds) {
        addresses.add(new Address("pekko", SYSTEM, hp[0], Integer.parseInt(hp[1])));
      }
      cluster.manager().tell(new JoinSeedNodes(addresses));
    }
    return up;
  }
}
