package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ulp.pingpong.PingPongClient;
import dev.midlayer.ulp.pingpong.PingPongOptions;
import dev.midlayer.ulp.pingpong.PingPongResult;
import dev.midlayer.ulp.pingpong.PingPongServer;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer pingpong}: the pingpong template ULP ({@code dev.midlayer.ulp.pingpong}) between two loopback
 * devices, as {@code ibv_rc_pingpong} runs between two hosts: a server client on lo0, a client client on lo1
 * connecting to it through the CM, one message at a time.
 */
@Command(name = "pingpong", mixinStandardHelpOptions = true,
    description = "Run the pingpong template ULP (RC SEND ping and echo through the connection manager) between "
        + "two loopback devices and print iterations, rate and round-trip latency, as ibv_rc_pingpong does.")
public final class PingPongCommand implements Callable<Integer> {
  /** How long the session may take before the command gives up. */
  private static final Duration SESSION_TIMEOUT = Duration.ofMinutes(10);

  @Spec
  CommandSpec spec;

  @Option(names = {"-s", "--size"}, defaultValue = "4096",
      description = "Message size in bytes, " + PingPongOptions.MIN_SIZE + ".." + PingPongOptions.MAX_SIZE
          + " (default ${DEFAULT-VALUE}).")
  int size;

  @Option(names = {"-n", "--iters"}, defaultValue = "1000", description = "Round trips (default ${DEFAULT-VALUE}).")
  long iterations;

  @Option(names = "--poll", description = "Busy-poll the CQs from a thread per endpoint instead of letting each "
      + "CQ's actor deliver the completions (lower latency, a core per endpoint).")
  boolean poll;

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
    Bounds.check(spec, "--size", size, PingPongOptions.MIN_SIZE, PingPongOptions.MAX_SIZE);
    Bounds.check(spec, "--iters", iterations, 1, Long.MAX_VALUE);
  }

  /** Runs one session on {@code system}, printing to {@code out}; returns the exit code. */
  int run(ActorSystem<?> system, PrintStream out) throws Exception {
    Midlayer midlayer = Midlayer.get(system);
    LoopbackFabric fabric = new LoopbackFabric(midlayer);
    Device lo0 = await(fabric.addDevice("lo%d", 1)).device();
    LoopbackDevice lo1 = await(fabric.addDevice("lo%d", 1));
    PingPongOptions options = PingPongOptions.defaults().withSize(size).withIterations(iterations).withBusyPoll(poll);
    CompletableFuture<PingPongResult> result = new CompletableFuture<>();
    ClientId server = await(midlayer.registerClient(new PingPongServer(midlayer, "pingpong-server", d -> d == lo0,
        PingPongOptions.SERVICE_ID, poll)));
    out.printf("pingpong: %d iterations of %d bytes, %s -> %s (RC, through the CM), completions %s%n", iterations,
        size, lo1.name(), lo0.name(), poll ? "busy-polled" : "delivered by the CQ actor");
    ClientId client = await(midlayer.registerClient(new PingPongClient(midlayer, "pingpong-client",
        d -> d == lo0 ? Optional.empty() : Optional.of(CmDestination.gid(lo0.cachedPort(1).gids().get(0))),
        PingPongOptions.SERVICE_ID, options, result::complete)));
    try {
      PingPongResult r = result.get(SESSION_TIMEOUT.toMinutes(), TimeUnit.MINUTES);
      out.println(r.report());
      return r.outcome() == PingPongResult.Outcome.COMPLETED ? 0 : 1;
    } finally {
      await(midlayer.unregisterClient(client));
      await(midlayer.unregisterClient(server));
      await(fabric.removeDevice(lo1));
      await(fabric.removeDevice(fabric.devices().get(0)));
    }
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
