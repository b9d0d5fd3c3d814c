package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cli.perftest.HostPorts;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ulp.rpc.RpcChannel;
import dev.midlayer.ulp.rpc.RpcClient;
import dev.midlayer.ulp.rpc.RpcServer;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer rpc}: the rpc template ULP ({@code dev.midlayer.ulp.rpc}) as a benchmark, in the manner of
 * DaRPC: a server on lo0 with one SRQ shared by every client QP, {@code --clients} clients on lo1.., each keeping
 * its {@code --credits} calls in flight for {@code --warmup} and then {@code --seconds} (every answered call starts
 * the next from its completion; the warm-up's calls are not measured); it prints the calls per second, the
 * latency percentiles, and the RNR NAKs the server's port sent, which the credits keep at 0. Across JVMs on the
 * cluster driver, {@code --server} serves from a cluster node until SIGINT or SIGTERM and {@code --connect} runs
 * the clients, each a device of its own node, against it.
 */
@Command(name = "rpc", mixinStandardHelpOptions = true,
    description = {"Run the rpc template ULP (one SRQ shared by every client QP, credit-based flow control) between "
        + "loopback devices and print RPC/s, latency percentiles and the server's RNR NAKs; or across JVMs on the "
        + "cluster driver with --server and --connect.",
        "Example: midlayer rpc --server --bind 10.0.0.1:18517 -c 8, then on another machine: "
        + "midlayer rpc --connect 10.0.0.1:18517 -c 4"})
public final class RpcCommand implements Callable<Integer> {
  static final long SERVICE_ID = 0x4D4C_5250_4300_0000L; // "MLRPC"
  static final int MAX_CLIENTS = 16;

  @Spec
  CommandSpec spec;

  @Option(names = {"-c", "--clients"}, defaultValue = "4",
      description = "Client devices, each with one QP to the server, 1.." + MAX_CLIENTS + " (default ${DEFAULT-VALUE}).")
  int clients;

  @Option(names = "--credits", defaultValue = "16", description = "Calls in flight per client (the server's "
      + "grant), 1.." + RpcClient.MAX_CREDITS + " (default ${DEFAULT-VALUE}); the SRQ has clients x credits receives.")
  int credits;

  @Option(names = {"-s", "--request-size"}, defaultValue = "64",
      description = "Request size in bytes, 0.." + RpcServer.MAX_REQUEST + " (default ${DEFAULT-VALUE}).")
  int requestSize;

  @Option(names = "--response-size", defaultValue = "64",
      description = "Response size in bytes, 0.." + RpcServer.MAX_RESPONSE + " (default ${DEFAULT-VALUE}).")
  int responseSize;

  @Option(names = "--seconds", defaultValue = "3", description = "How long the calls run, 1..3600 (default ${DEFAULT-VALUE}).")
  int seconds;

  @Option(names = "--warmup", defaultValue = "2", description = "Seconds the calls run first, the same way, and are "
      + "not measured (the JIT compiles the data path), 0..600 (default ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--server", description = "Serve from a cluster node on --bind until SIGINT or SIGTERM: up to "
      + "--clients client QPs of other JVMs (--connect), --credits each, on one SRQ; --response-size bytes answered.")
  boolean server;

  @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:" + DEFAULT_PORT,
      description = "Where --server listens (default ${DEFAULT-VALUE}; port 0 picks a free one).")
  String bind;

  @Option(names = "--connect", paramLabel = "HOST:PORT", description = "Run --clients clients, each a cluster "
      + "device of this JVM's node, against the rpc server there (midlayer rpc --server).")
  String connect;

  /** The default port of --bind: perftest's 18515, plus two. */
  static final int DEFAULT_PORT = 18517;

  @Override
  public Integer call() throws Exception {
    checkOptions();
    if (server) {
      String[] at = HostPorts.parse(spec, "--bind", bind, true);
      return serve(at[0], Integer.parseInt(at[1]), System.out);
    }
    if (connect != null) {
      String[] to = HostPorts.parse(spec, "--connect", connect, false);
      return runAgainst(to[0], Integer.parseInt(to[1]), System.out);
    }
    ActorSystem<Void> system = MidlayerCli.startSystem();
    try {
      return run(system, System.out);
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  /** Refuses out-of-range options before anything is allocated (usage error, exit code 2). */
  void checkOptions() {
    Bounds.check(spec, "--clients", clients, 1, MAX_CLIENTS);
    Bounds.check(spec, "--credits", credits, 1, RpcClient.MAX_CREDITS);
    Bounds.check(spec, "--request-size", requestSize, 0, RpcServer.MAX_REQUEST);
    Bounds.check(spec, "--response-size", responseSize, 0, RpcServer.MAX_RESPONSE);
    Bounds.check(spec, "--seconds", seconds, 1, 3600);
    Bounds.check(spec, "--warmup", warmup, 0, 600);
    if (server && connect != null) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "give at most one of --server and --connect");
    }
  }

  /**
   * {@code --server}: a cluster node on {@code host:port} with device {@code cl0} and the rpc server on it, until
   * the node's actor system terminates (SIGINT or SIGTERM run CoordinatedShutdown, which unregisters the server
   * and the device and leaves the cluster). <b>May sleep</b>: the command's thread.
   */
  int serve(String host, int port, PrintStream out) throws Exception {
    ActorSystem<Void> system = ClusterEnds.startServer(host, port);
    try {
      Midlayer midlayer = Midlayer.get(system);
      Device device = await(ClusterFabric.get(system).addDevice("cl%d", 1)).device();
      byte[] response = new byte[responseSize];
      await(midlayer.registerClient(new RpcServer(midlayer, "rpc-server", d -> d == device, SERVICE_ID,
          clients * credits, credits, request -> response)));
      out.printf(Locale.ROOT, "rpc: serving up to %d clients x %d credits on one SRQ of %d, %d-byte responses, on %s "
          + "at %s; SIGINT or SIGTERM stops it%n", clients, credits, clients * credits, responseSize, device.name(),
          ClusterEnds.boundAddress(system));
      out.flush();
    } catch (Exception e) {
      MidlayerCli.stopSystem(system);
      throw e;
    }
    system.getWhenTerminated().toCompletableFuture().join();
    return 0;
  }

  /**
   * {@code --connect}: a cluster node that joins the server's at {@code host:port}, adds {@code --clients} devices,
   * connects an rpc client from each to the server's device, runs the benchmark, and leaves. The server's RNR NAKs
   * are its own to count; this side prints the RNR NAKs its clients' ports received. <b>May sleep</b>: the
   * command's thread.
   */
  int runAgainst(String host, int port, PrintStream out) throws Exception {
    ActorSystem<Void> system = ClusterEnds.startClient("rpc", host, port);
    try {
      Midlayer midlayer = Midlayer.get(system);
      ClusterFabric fabric = ClusterFabric.get(system);
      List<Device> devices = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        devices.add(await(fabric.addDevice("cl%d", 1)).device());
      }
      RpcClient rpcClient = new RpcClient(midlayer, "rpc-client", d -> Optional.of(ClusterEnds.server(host, port)),
          SERVICE_ID);
      ClientId clientId = await(midlayer.registerClient(rpcClient));
      try {
        List<RpcChannel> channels = new ArrayList<>();
        for (Device d : devices) {
          rpcClient.channel(d).ifPresent(channels::add);
        }
        if (channels.size() != clients) {
          out.println("FAILED: " + channels.size() + " of " + clients + " clients connected to "
              + ClusterEnds.SERVER_DEVICE + " at " + host + ":" + port + " (the server admits as many as its "
              + "--clients; the log says why)");
          return 1;
        }
        // The connection manager spoke through Artery actors; the data path needs the server's port routed.
        for (Device d : devices) {
          await(fabric.whenRoutable(rpcClient.serverGid(d).orElseThrow()));
        }
        String header = String.format(Locale.ROOT, "rpc: %d clients x %d credits (the server granted %d), %d-byte "
            + "requests, %s -> %s at %s:%d, %d s after %d s of warm-up", clients, credits, channels.get(0).credits(),
            requestSize, clients == 1 ? devices.get(0).name() : devices.get(0).name() + ".." + devices.get(clients - 1)
                .name(), ClusterEnds.SERVER_DEVICE, host, port, seconds, warmup);
        LongSupplier rnr = () -> devices.stream().mapToLong(d -> d.portCounters(1).rnrNaksReceived()).sum();
        return benchmark(channels, header, rnr, "RNR NAKs received by the clients' ports", out);
      } finally {
        await(midlayer.unregisterClient(clientId));
      }
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  /** Runs the benchmark on {@code system}, printing to {@code out}; returns the exit code. */
  int run(ActorSystem<?> system, PrintStream out) throws Exception {
    Midlayer midlayer = Midlayer.get(system);
    LoopbackFabric fabric = new LoopbackFabric(midlayer);
    Device serverDevice = await(fabric.addDevice("lo%d", 1)).device();
    for (int i = 0; i < clients; i++) {
      await(fabric.addDevice("lo%d", 1));
    }
    byte[] response = new byte[responseSize];
    // The handler runs in a completion handler: it only answers, with the same bytes every time (the server
    // copies them into its send buffer).
    RpcServer server = new RpcServer(midlayer, "rpc-server", d -> d == serverDevice, SERVICE_ID, clients * credits,
        credits, request -> response);
    ClientId serverId = await(midlayer.registerClient(server));
    RpcClient rpcClient = new RpcClient(midlayer, "rpc-client", d -> d == serverDevice ? Optional.empty()
        : Optional.of(CmDestination.gid(serverDevice.cachedPort(1).gids().get(0))), SERVICE_ID);
    ClientId clientId = await(midlayer.registerClient(rpcClient));
    try {
      List<RpcChannel> channels = new ArrayList<>();
      for (Device d : midlayer.devices()) {
        rpcClient.channel(d).ifPresent(channels::add);
      }
      if (channels.size() != clients) {
        out.println("FAILED: " + channels.size() + " of " + clients + " clients connected");
        return 1;
      }
      String header = String.format(Locale.ROOT, "rpc: %d clients x %d credits, %d-byte requests, %d-byte "
          + "responses, one SRQ of %d on %s, %d s after %d s of warm-up", clients, credits, requestSize,
          responseSize, clients * credits, serverDevice.name(), seconds, warmup);
      return benchmark(channels, header, () -> serverDevice.portCounters(1).rnrNaksSent(),
          "RNR NAKs sent by the server's port", out);
    } finally {
      await(midlayer.unregisterClient(clientId));
      await(midlayer.unregisterClient(serverId));
      for (LoopbackDevice d : fabric.devices()) {
        await(fabric.removeDevice(d));
      }
    }
  }

  /**
   * The calls on {@code channels}, {@code --credits} lanes each, for the warm-up and then the measured seconds;
   * prints {@code header}, the result row and the RNR NAKs {@code rnr} counted meanwhile. <b>May sleep</b>: the
   * command's thread.
   */
  private int benchmark(List<RpcChannel> channels, String header, LongSupplier rnr, String rnrWhat,
      PrintStream out) throws Exception {
    out.println(header);
    long rnrBefore = rnr.getAsLong();
    byte[] request = new byte[requestSize];
    channels.forEach(RpcChannel::takeLatency);
    long warmupStart = System.nanoTime();
    long end = warmupStart + TimeUnit.SECONDS.toNanos(warmup + seconds);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch lanes = new CountDownLatch(channels.size() * credits);
    for (RpcChannel ch : channels) {
      for (int i = 0; i < credits; i++) {
        new Lane(ch, request, end, failure, lanes).next();
      }
    }
    // The warm-up is a length of time, not a wait for an event; the lanes go on through its end, and what
    // they recorded before it is thrown away.
    TimeUnit.NANOSECONDS.sleep(warmupStart + TimeUnit.SECONDS.toNanos(warmup) - System.nanoTime());
    channels.forEach(RpcChannel::takeLatency);
    long start = System.nanoTime();
    if (!lanes.await(seconds + 60L, TimeUnit.SECONDS)) {
      out.println("FAILED: " + lanes.getCount() + " calls unanswered 60 s after the end");
      return 1;
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    if (failure.get() != null) {
      out.println("FAILED: " + failure.get().getMessage());
      return 1;
    }
    Histogram all = new Histogram(3);
    channels.forEach(ch -> all.add(ch.takeLatency()));
    out.printf(Locale.ROOT, "RPC %10d calls %10.0f calls/s   p50 %7.1f us   p99 %7.1f us   p99.9 %7.1f us   max "
        + "%8.1f us%n", all.getTotalCount(), all.getTotalCount() / elapsed, all.getValueAtPercentile(50) / 1e3,
        all.getValueAtPercentile(99) / 1e3, all.getValueAtPercentile(99.9) / 1e3, all.getMaxValue() / 1e3);
    out.printf("%s (warm-up included): %d%n", rnrWhat, rnr.getAsLong() - rnrBefore);
    return 0;
  }

  /** One call at a time, the next started from the completion of the last, until the end. */
  private record Lane(RpcChannel channel, byte[] request, long end, AtomicReference<Throwable> failure,
      CountDownLatch done) {
    /** Never blocks: runs on the caller's thread first, then in the channel's completion callbacks. */
    void next() {
      if (System.nanoTime() >= end || failure.get() != null) {
        done.countDown();
        return;
      }
      channel.call(request).whenComplete((answer, e) -> {
        if (e != null) {
          failure.compareAndSet(null, e);
        }
        next();
      });
    }
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
