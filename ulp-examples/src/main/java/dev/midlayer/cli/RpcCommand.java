package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ib.TransportCounters;
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
 * the next from its completion; the warm-up's calls are not measured); it prints the calls per second, the latency percentiles, and the RNR NAKs the server's port sent,
 * which the credits keep at 0.
 */
@Command(name = "rpc", mixinStandardHelpOptions = true,
    description = "Run the rpc template ULP (one SRQ shared by every client QP, credit-based flow control) between "
        + "loopback devices and print RPC/s, latency percentiles and the server's RNR NAKs.")
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

  @Override
  public Integer call() throws Exception {
    checkOptions();
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
      out.printf(Locale.ROOT, "rpc: %d clients x %d credits, %d-byte requests, %d-byte responses, one SRQ of %d "
          + "on %s, %d s after %d s of warm-up%n", clients, credits, requestSize, responseSize, clients * credits,
          serverDevice.name(), seconds, warmup);
      TransportCounters before = serverDevice.portCounters(1);
      byte[] request = new byte[requestSize];
      channels.forEach(RpcChannel::takeLatency);
      long warmupStart = System.nanoTime();
      long end = warmupStart + TimeUnit.SECONDS.toNanos(warmup + seconds);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      CountDownLatch lanes = new CountDownLatch(clients * credits);
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
      long rnr = serverDevice.portCounters(1).rnrNaksSent() - before.rnrNaksSent();
      out.printf("RNR NAKs sent by the server's port (warm-up included): %d%n", rnr);
      return 0;
    } finally {
      await(midlayer.unregisterClient(clientId));
      await(midlayer.unregisterClient(serverId));
      for (LoopbackDevice d : fabric.devices()) {
        await(fabric.removeDevice(d));
      }
    }
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
