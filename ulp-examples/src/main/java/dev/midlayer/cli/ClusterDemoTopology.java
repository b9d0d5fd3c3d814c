package dev.midlayer.cli;

import static dev.midlayer.cli.LoopbackDemoTopology.await;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterDevice;
import dev.midlayer.drivers.cluster.ClusterFabric;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

/**
 * The demo across two cluster nodes in this JVM: two actor systems on Artery TCP at 127.0.0.1 (free ports)
 * forming a cluster, the cluster driver's device {@code cl0} on the first node for the server, {@code clb0} on the
 * second node for the client, so that every ping and echo crosses Artery.
 */
final class ClusterDemoTopology implements DemoTopology {
  private static final long UP_TIMEOUT_SECONDS = 60;
  /** The second node's device names: each node numbers its own, so a name of their own tells them apart. */
  private static final String CLIENT_DEVICES = "clb%d";

  private final ActorSystem<Void> first;
  private final ActorSystem<Void> second;
  private final ClusterDevice server;
  private ClusterDevice client;

  /** Starts both nodes, waits for them to be Up, and adds a device on each. May sleep. */
  ClusterDemoTopology() throws Exception {
    first = ClusterNode.start("127.0.0.1", 0);
    ActorSystem<Void> started = null;
    try {
      CompletableFuture<Void> firstUp = ClusterNode.join(first, List.of());
      firstUp.get(UP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      started = ClusterNode.start("127.0.0.1", 0);
      CompletableFuture<Void> secondUp = new CompletableFuture<>();
      org.apache.pekko.cluster.Cluster.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(started))
          .registerOnMemberUp(() -> secondUp.complete(null));
      Cluster.get(started).manager().tell(Join.create(Cluster.get(first).selfMember().address()));
      secondUp.get(UP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      server = await(ClusterFabric.get(first).addDevice("cl%d", 1));
      client = await(ClusterFabric.get(started).addDevice(CLIENT_DEVICES, 1));
    } catch (Exception e) {
      if (started != null) {
        MidlayerCli.stopSystem(started);
      }
      MidlayerCli.stopSystem(first);
      throw e;
    }
    second = started;
  }

  @Override
  public String describe() {
    return "two cluster nodes in this JVM (" + first.address() + ", " + second.address() + "), device "
        + server.name() + " on the first, " + client.name() + " on the second";
  }

  @Override
  public List<Midlayer> midlayers() {
    return List.of(Midlayer.get(first), Midlayer.get(second));
  }

  @Override
  public Device serverDevice() {
    return server.device();
  }

  @Override
  public Device clientDevice() {
    return client.device();
  }

  @Override
  public String replugClientDevice() throws Exception {
    ClusterFabric fabric = client.fabric();
    await(fabric.removeDevice(client));
    client = await(fabric.addDevice(CLIENT_DEVICES, 1));
    return client.name();
  }

  @Override
  public void removeDevices() throws Exception {
    await(client.fabric().removeDevice(client));
    await(server.fabric().removeDevice(server));
  }

  @Override
  public void close() throws Exception {
    MidlayerCli.stopSystem(second);
    MidlayerCli.stopSystem(first);
  }
}
