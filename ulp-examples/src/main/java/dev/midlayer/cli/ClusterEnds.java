package dev.midlayer.cli;

import dev.midlayer.cm.CmDestination;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The two ends of a template benchmark across JVMs ({@code --server} and {@code --connect}): a server node that
 * starts a cluster of its own on its {@code --bind} address, and a client node that joins it there. The server's
 * device is the first the cluster driver makes on its node, {@code cl0}, so a client names the server by its
 * address alone. Every method <b>may sleep</b>: the command's thread.
 */
final class ClusterEnds {
  /** The server's device: the first cluster device of its node. */
  static final String SERVER_DEVICE = "cl0";
  static final long JOIN_TIMEOUT_SECONDS = 60;

  private ClusterEnds() {}

  /** A server node on {@code host:port} (0: any free port), Up in a cluster of its own. */
  static ActorSystem<Void> startServer(String host, int port) throws Exception {
    ActorSystem<Void> system = ClusterNode.start(host, port);
    try {
      ClusterNode.join(system, List.of()).get(JOIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      return system;
    } catch (Exception e) {
      MidlayerCli.stopSystem(system);
      throw e;
    }
  }

  /**
   * A client node, Up in the cluster of the server at {@code host:port}; it listens on the loopback address for a
   * server on this machine, on this machine's address otherwise.
   *
   * @throws IllegalStateException naming the address and how to start a server there, if the node is not Up in time
   */
  static ActorSystem<Void> startClient(String command, String host, int port) throws Exception {
    ActorSystem<Void> system = ClusterNode.start(localHostFor(host), 0);
    try {
      ClusterNode.join(system, List.<String[]>of(new String[] {host, String.valueOf(port)}))
          .get(JOIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      return system;
    } catch (TimeoutException e) {
      MidlayerCli.stopSystem(system);
      throw new IllegalStateException("no " + command + " server at " + host + ":" + port + " after " + JOIN_TIMEOUT_SECONDS
          + " s (start one with: midlayer " + command + " --server --bind " + host + ":" + port + ")");
    } catch (Exception e) {
      MidlayerCli.stopSystem(system);
      throw e;
    }
  }

  /** The server's device at {@code host:port}, for the connection manager. */
  static CmDestination server(String host, int port) {
    return CmDestination.node(new Address("pekko", ClusterNode.SYSTEM, host, port), SERVER_DEVICE, 1);
  }

  /** {@code host:port} as the system is bound (a --bind of port 0 took a free one). */
  static String boundAddress(ActorSystem<?> system) {
    Address a = system.address();
    return a.host().get() + ":" + a.port().get();
  }

  private static String localHostFor(String serverHost) throws UnknownHostException {
    InetAddress server = InetAddress.getByName(serverHost);
    return server.isLoopbackAddress() ? server.getHostAddress() : InetAddress.getLocalHost().getHostAddress();
  }
}
