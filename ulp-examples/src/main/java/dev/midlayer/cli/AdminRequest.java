package dev.midlayer.cli;

import com.typesafe.config.ConfigFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ActorSelection;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.Patterns;

/**
 * One request of {@code midlayer stat} or {@code midlayer res} to the {@link NodeAdmin} of a running node: a
 * short-lived actor system of its own (remote provider, no cluster membership: it asks, it does not join) sends
 * the request string over Artery and waits for the text. <b>May sleep</b>: the command's thread.
 */
final class AdminRequest {
  /** How long a command waits for the node's answer unless its {@code --timeout} says otherwise. */
  static final int DEFAULT_TIMEOUT_SECONDS = 15;

  private AdminRequest() {}

  /**
   * The node's answer to {@code request}, waiting at most {@code timeout}.
   *
   * @throws IllegalStateException naming the address, if no node answers there in time
   */
  static String ask(String command, String host, int port, String request, Duration timeout) throws Exception {
    InetAddress server = InetAddress.getByName(host);
    String local = server.isLoopbackAddress() ? server.getHostAddress() : InetAddress.getLocalHost().getHostAddress();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "midlayer-" + command, ConfigFactory.parseString(
        "pekko.actor.provider = remote\n"
            + "pekko.remote.artery.transport = tcp\n"
            + "pekko.remote.artery.canonical.hostname = \"" + local + "\"\n"
            + "pekko.remote.artery.canonical.port = 0\n"
            // It only asks: the advice to use the cluster instead of plain remoting is for applications.
            + "pekko.remote.warn-about-direct-use = off\n")
        .withFallback(ConfigFactory.load("midlayer-cli")));
    try {
      ActorSelection admin = Adapter.toClassic(system).actorSelection(
          "pekko://" + ClusterNode.SYSTEM + "@" + host + ":" + port + "/system/" + NodeAdmin.NAME);
      Object answer = Patterns.ask(admin, request, timeout).toCompletableFuture()
          .get(timeout.toSeconds() + 5, TimeUnit.SECONDS);
      return String.valueOf(answer);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof org.apache.pekko.pattern.AskTimeoutException) {
        throw noNode(host, port, timeout);
      }
      throw e;
    } catch (TimeoutException e) {
      throw noNode(host, port, timeout);
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  private static IllegalStateException noNode(String host, int port, Duration timeout) {
    return new IllegalStateException("no midlayer node answered at " + host + ":" + port + " within "
        + timeout.toSeconds() + " s (start one with: midlayer node --bind " + host + ":" + port + ")");
  }
}
