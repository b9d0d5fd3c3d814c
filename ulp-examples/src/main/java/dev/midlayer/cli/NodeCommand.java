package dev.midlayer.cli;

import dev.midlayer.cli.perftest.HostPorts;
import dev.midlayer.drivers.cluster.ClusterDevice;
import dev.midlayer.drivers.cluster.ClusterFabric;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer node}: a midlayer node of a Pekko cluster with cluster-driver devices. It joins the seed nodes
 * (or starts a cluster), registers its devices once it is Up, prints them as {@code devinfo} does (with their
 * GIDs, which peers address them by), and runs until SIGINT or SIGTERM; then it leaves through Pekko's
 * CoordinatedShutdown: clients are removed, devices unregistered, the cluster left, so peers see their QPs
 * towards this node end (DISCONNECTED through the connection manager, RETRY_EXC_ERR otherwise) and flush.
 */
@Command(name = "node", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run a midlayer cluster node with cluster-driver devices until SIGINT/SIGTERM, then leave "
        + "gracefully.", "Example: midlayer node --bind 10.0.0.1:25520 --seed 10.0.0.1:25520 --devices 1"})
public final class NodeCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:25520",
      description = "Artery's address for this node (default ${DEFAULT-VALUE}; port 0 picks a free one).")
  String bind;

  @Option(names = "--seed", paramLabel = "HOST:PORT",
      description = "A seed node to join (repeatable; none: this node starts a new cluster).")
  List<String> seeds = new ArrayList<>();

  @Option(names = {"-d", "--devices"}, defaultValue = "1", description = "Cluster devices (default ${DEFAULT-VALUE}).")
  int devices;

  @Option(names = {"-p", "--ports"}, defaultValue = "1", description = "Ports per device (default ${DEFAULT-VALUE}).")
  int ports;

  @Option(names = "--join-timeout", defaultValue = "60", paramLabel = "SECONDS",
      description = "Give up when the node is not Up after this long (default ${DEFAULT-VALUE}).")
  int joinTimeout;

  @Override
  public Integer call() throws Exception {
    String[] at = HostPorts.parse(spec, "--bind", bind, true);
    List<String[]> seedAddresses = new ArrayList<>();
    for (String s : seeds) {
      seedAddresses.add(HostPorts.parse(spec, "--seed", s, false));
    }
    HostPorts.require(spec, devices >= 1 && devices <= 64, "--devices must be 1..64, was " + devices);
    HostPorts.require(spec, ports >= 1 && ports <= 255, "--ports must be 1..255, was " + ports);
    HostPorts.require(spec, joinTimeout >= 1, "--join-timeout must be >= 1, was " + joinTimeout);
    ActorSystem<Void> system = ClusterNode.start(at[0], Integer.parseInt(at[1]));
    try {
      ClusterNode.join(system, seedAddresses).get(joinTimeout, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      System.err.println("midlayer node: not Up after " + joinTimeout + " s (are the seed nodes " + seeds
          + " running?)");
      MidlayerCli.stopSystem(system);
      return 1;
    }
    ClusterFabric fabric = ClusterFabric.get(system);
    List<ClusterDevice> added = new ArrayList<>();
    for (int i = 0; i < devices; i++) {
      added.add(fabric.addDevice("cl%d", ports).toCompletableFuture().get(30, TimeUnit.SECONDS));
    }
    System.out.println("node " + system.address() + " is Up; SIGINT or SIGTERM leaves the cluster");
    PrintWriter devices = new PrintWriter(System.out);
    for (ClusterDevice d : added) {
      DevInfoCommand.print(devices, d.device(), 0, false, true); // the GIDs: what a peer connects to
    }
    devices.flush();
    // CoordinatedShutdown runs on SIGINT/SIGTERM (Pekko's JVM shutdown hook) and terminates the system.
    system.getWhenTerminated().toCompletableFuture().join();
    return 0;
  }
}
