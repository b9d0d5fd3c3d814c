package dev.midlayer.cli.perftest;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Props;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What {@code artery_bw} and {@code artery_lat} share: the server/client options, the actor systems, and the
 * hand-over of the client's result to the server so that both print it (as perftest's server does).
 */
abstract class ArteryCommandBase extends PerftestCommandBase {
  @Mixin
  RemoteOptions remote;

  @Option(names = {"-s", "--size"}, defaultValue = "64", paramLabel = "BYTES",
      description = "Message size in bytes (default ${DEFAULT-VALUE}).")
  int size;

  @Option(names = {"-n", "--iterations"}, defaultValue = "100000",
      description = "Messages (bw) or round trips (lat) measured (default ${DEFAULT-VALUE}).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "10000",
      description = "Messages or round trips run first and not measured (default ${DEFAULT-VALUE}).")
  long warmup;

  /** How long the client waits for the whole run before it gives up. */
  private static final Duration RUN_DEADLINE = Duration.ofMinutes(10);

  @Override
  final void run(java.io.PrintWriter out) throws Exception {
    remote.validate(spec);
    bound("--size", size, 1, LIMITS_MAX_MSG, "max_msg_sz, as the verbs tests");
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    validate();
    if (remote.server) {
      serve(out);
    } else {
      connect(out);
    }
  }

  /** Checks the options of the subcommand. */
  void validate() {}

  /** The client's run against {@code server}; returns its result row. */
  abstract PerftestOutput runClient(ActorSystem system, ActorRef server) throws Exception;

  /** Prints a result row. */
  abstract void print(java.io.PrintWriter out, PerftestOutput row);

  private void serve(java.io.PrintWriter out) throws Exception {
    RemoteOptions.HostPort bind = remote.bindAddress(spec);
    ActorSystem system = start(bind);
    try {
      CompletableFuture<String> result = new CompletableFuture<>();
      system.actorOf(ResultBox.props(result), ArteryAnchor.SERVER + "-result");
      CompletableFuture<Void> finished = new CompletableFuture<>();
      system.actorOf(ArteryAnchor.Server.props(finished), ArteryAnchor.SERVER);
      var address = system.provider().getDefaultAddress();
      spec.commandLine().getErr().println("perftest " + spec.name() + ": waiting for a client on "
          + address.host().get() + ":" + address.port().get());
      spec.commandLine().getErr().flush();
      finished.join();
      print(out, PerftestOutput.fromJson(result.get(30, TimeUnit.SECONDS)));
    } finally {
      stop(system);
    }
  }

  private void connect(java.io.PrintWriter out) throws Exception {
    RemoteOptions.HostPort to = remote.connectAddress(spec);
    ActorSystem system = start(new RemoteOptions.HostPort(localHostFor(to.host()), 0));
    try {
      String path = "pekko://" + ArteryAnchor.SYSTEM + "@" + to + "/user/";
      ActorRef server = resolve(system, path + ArteryAnchor.SERVER, to);
      ActorRef resultBox = resolve(system, path + ArteryAnchor.SERVER + "-result", to);
      PerftestOutput row = runClient(system, server);
      resultBox.tell(row.json(), ActorRef.noSender());
      print(out, row);
    } finally {
      stop(system);
    }
  }

  /** Waits for a client-side future, with the run's deadline. */
  static <T> T await(CompletableFuture<T> f) throws Exception {
    try {
      return f.get(RUN_DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new PerftestException("no result within " + RUN_DEADLINE.toMinutes() + " minutes");
    } catch (ExecutionException e) {
      throw new PerftestException(String.valueOf(e.getCause().getMessage()), e.getCause());
    }
  }

  /** Spawns an actor that completes {@code f} with what it is told first. */
  static <T> ActorRef spawn(ActorSystem system, Function<CompletableFuture<T>, Props> props, CompletableFuture<T> f) {
    return system.actorOf(props.apply(f));
  }

  private static ActorSystem start(RemoteOptions.HostPort at) {
    return ActorSystem.create(ArteryAnchor.SYSTEM, ArteryAnchor.config(at.host(), at.port()));
  }

  private static void stop(ActorSystem system) throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static ActorRef resolve(ActorSystem system, String path, RemoteOptions.HostPort to) throws Exception {
    try {
      return system.actorSelection(path).resolveOne(Duration.ofSeconds(10)).toCompletableFuture()
          .get(15, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new PerftestException("no perftest server at " + to + " (start one with --server --bind " + to + ")");
    }
  }

  /** The address a client listens on to be reachable from {@code serverHost}: loopback for a local server. */
  private static String localHostFor(String serverHost) throws UnknownHostException {
    InetAddress server = InetAddress.getByName(serverHost);
    return server.isLoopbackAddress() ? server.getHostAddress() : InetAddress.getLocalHost().getHostAddress();
  }

  /** Receives the client's result line on the server. */
  static final class ResultBox extends org.apache.pekko.actor.AbstractActor {
    private final CompletableFuture<String> result;

    ResultBox(CompletableFuture<String> result) {
      this.result = result;
    }

    static Props props(CompletableFuture<String> result) {
      return Props.create(ResultBox.class, () -> new ResultBox(result));
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder().match(String.class, result::complete).build();
    }
  }
}
