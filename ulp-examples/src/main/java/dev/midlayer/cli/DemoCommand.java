package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.ulp.pingpong.PingPongClient;
import dev.midlayer.ulp.pingpong.PingPongOptions;
import dev.midlayer.ulp.pingpong.PingPongResult;
import dev.midlayer.ulp.pingpong.PingPongServer;
import dev.midlayer.ulp.portmonitor.PortMonitor;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer demo}, the main job: the template ULPs as registered clients on a loopback fabric of two
 * devices (or, with {@code --nodes 2}, on two cluster nodes), under the contract monitor. The pingpong client on
 * lo1 runs round trips against the pingpong server on lo0 while the port monitor watches; lo1 is unplugged under
 * load and a new device plugged in, where the client starts again. The report gives each ULP's operations, the work requests the unplug flushed, the latency
 * percentiles, and ends with the monitor's verdict, {@code contract violations: N}. Exit code 1 if the monitor saw
 * a violation or a session failed.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "The main job: template ULPs as registered clients on two loopback devices, one device unplugged "
        + "under load and another plugged in, then a report ending with the contract monitor's verdict.")
public final class DemoCommand implements Callable<Integer> {
  private static final long TIMEOUT_SECONDS = 30;

  @Spec
  CommandSpec spec;

  @Option(names = "--seconds", defaultValue = "6", description = "How long the traffic runs, 2..3600 "
      + "(default ${DEFAULT-VALUE}); the unplug comes after a third of it.")
  int seconds;

  @Option(names = {"-s", "--size"}, defaultValue = "64",
      description = "Pingpong message size in bytes (default ${DEFAULT-VALUE}).")
  int size;

  /** How often the progress line is refreshed. */
  Duration progressEvery = Duration.ofMillis(500);

  @Option(names = "--nodes", defaultValue = "1", description = "1: both devices on this JVM's loopback fabric "
      + "(default); 2: two cluster nodes in this JVM on Artery TCP at 127.0.0.1, the cluster driver's devices, the "
      + "server on the first node and the client on the second.")
  int nodes;

  @Override
  public Integer call() throws Exception {
    checkOptions();
    if (nodes == 2) {
      try (ClusterDemoTopology cluster = new ClusterDemoTopology()) {
        return run(cluster, System.out, System.console() != null);
      }
    }
    ActorSystem<Void> system = MidlayerCli.startSystem();
    try {
      return run(system, System.out, System.console() != null);
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  /** Refuses out-of-range options before anything is allocated (usage error, exit code 2). */
  void checkOptions() {
    Bounds.check(spec, "--seconds", seconds, 2, 3600);
    Bounds.check(spec, "--size", size, PingPongOptions.MIN_SIZE, PingPongOptions.MAX_SIZE);
    Bounds.check(spec, "--nodes", nodes, 1, 2);
  }

  /** Runs the demo on {@code system}'s loopback fabric (its midlayer has no devices yet). */
  int run(ActorSystem<?> system, PrintStream out, boolean terminal) throws Exception {
    try (LoopbackDemoTopology loopback = new LoopbackDemoTopology(Midlayer.get(system))) {
      return run(loopback, out, terminal);
    }
  }

  /**
   * Runs the demo on {@code topology}, printing to {@code out}, the progress line redrawn in place if
   * {@code terminal}; returns the exit code.
   */
  int run(DemoTopology topology, PrintStream out, boolean terminal) throws Exception {
    List<ContractMonitor> monitors = new ArrayList<>();
    for (Midlayer m : topology.midlayers()) {
      monitors.add(m.attachMonitor());
    }
    Device server = topology.serverDevice();
    String firstClientDevice = topology.clientDevice().name();
    out.printf("demo: %s, contract monitor attached%n", topology.describe());

    AtomicLong portEvents = new AtomicLong();
    BlockingQueue<PingPongResult> sessions = new LinkedBlockingQueue<>();
    Midlayer serverSide = topology.serverSide();
    Midlayer clientSide = topology.clientSide();
    PingPongServer pong = new PingPongServer(serverSide, "pingpong-server", d -> d == server,
        PingPongOptions.SERVICE_ID, false);
    PingPongClient ping = new PingPongClient(clientSide, "pingpong-client", d -> d == server ? Optional.empty()
        : Optional.of(CmDestination.gid(server.cachedPort(1).gids().get(0))), PingPongOptions.SERVICE_ID,
        PingPongOptions.defaults().withSize(size).withIterations(Long.MAX_VALUE), sessions::add);
    List<Registered> registered = new ArrayList<>();
    for (Midlayer m : topology.midlayers()) {
      registered.add(new Registered(m, await(m.registerClient(new PortMonitor("portmon",
          line -> portEvents.incrementAndGet())))));
    }
    registered.add(new Registered(serverSide, await(serverSide.registerClient(pong))));
    registered.add(new Registered(clientSide, await(clientSide.registerClient(ping))));
    out.printf("clients: portmon (every device), pingpong-server (%s), pingpong-client (%s)%n", server.name(),
        firstClientDevice);

    Progress progress = new Progress(out, terminal, ping, System.nanoTime());
    long unplugAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds) / 3;
    long endAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    progress.until(unplugAt, progressEvery);
    progress.event("unplug " + firstClientDevice + " under load");
    String replugged = topology.replugClientDevice(); // the unplug returns after every client's remove
    progress.event("plugged in " + replugged + ": the pingpong client connects from it");
    progress.until(endAt, progressEvery);
    progress.done();

    for (int i = registered.size() - 1; i >= 0; i--) {
      await(registered.get(i).midlayer().unregisterClient(registered.get(i).id()));
    }
    topology.removeDevices();
    List<PingPongResult> results = List.copyOf(sessions);
    long violations = 0;
    for (ContractMonitor m : monitors) {
      violations += m.verify().size();
    }
    boolean failed = report(out, results, pong, portEvents.get());
    if (!blockHoundPresent()) {
      out.println("(check 4 BLOCKING is made by BlockHound, which is not on this classpath: not checked here; the "
          + "tests run with it)");
    }
    for (int i = 0; i < monitors.size(); i++) {
      if (monitors.size() > 1) {
        out.println("node " + topology.midlayers().get(i).system().address() + ":");
      }
      out.println(monitors.get(i).report()); // its last line: contract violations: N
    }
    if (monitors.size() > 1) {
      out.println("contract violations: " + violations); // every node's, the verdict
    }
    return violations == 0 && !failed ? 0 : 1;
  }

  /** A client the demo registered, to unregister at the end. */
  private record Registered(Midlayer midlayer, ClientId id) {}

  /** Prints the ULPs' part of the report; true if a session failed. */
  private static boolean report(PrintStream out, List<PingPongResult> results, PingPongServer pong, long events) {
    out.println();
    out.println("report");
    long roundTrips = results.stream().mapToLong(PingPongResult::iterations).sum();
    // The first session is the one the unplug cut; the last one ended with the client's unregistration.
    long byUnplug = results.isEmpty() ? 0 : results.get(0).flushed();
    long byUnregister = results.size() < 2 ? 0 : results.get(results.size() - 1).flushed();
    out.printf("  pingpong-client  %d session(s), %d round trips (a SEND and a receive each, both completed); WRs in "
        + "flight flushed: %d by the unplug, %d by the final unregistration%n", results.size(), roundTrips, byUnplug,
        byUnregister);
    boolean failed = results.isEmpty();
    for (PingPongResult r : results) {
      out.printf(Locale.ROOT, "    on %-4s %-12s %8d round trips, %8.0f/s, round trip p50 %.1f us, p99 %.1f us, "
          + "max %.1f us%s%n", r.device(), r.outcome().name().toLowerCase(Locale.ROOT), r.iterations(),
          r.seconds() > 0 ? r.iterations() / r.seconds() : 0, r.roundTripMicros(50), r.roundTripMicros(99),
          r.roundTripMicros(100), r.flushed() > 0 ? ", " + r.flushed() + " WR(s) flushed" : "");
      failed |= r.outcome() == PingPongResult.Outcome.FAILED;
    }
    out.printf("  pingpong-server  %d echoes%n", pong.echoes());
    out.printf("  portmon          %d lines (adds, removes, port events)%n", events);
    out.println();
    return failed;
  }

  private static boolean blockHoundPresent() {
    try {
      Class.forName("reactor.blockhound.BlockHound");
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  /** The live progress line: elapsed time, round trips and their rate. */
  private static final class Progress {
    private final PrintStream out;
    private final boolean terminal;
    private final PingPongClient ping;
    private final long start;
    private long lastNanos;
    private long lastTrips;
    private long lastPrinted;

    Progress(PrintStream out, boolean terminal, PingPongClient ping, long start) {
      this.out = out;
      this.terminal = terminal;
      this.ping = ping;
      this.start = start;
      this.lastNanos = start;
      this.lastPrinted = start;
    }

    /** Shows progress until {@code deadline} (System.nanoTime), redrawn every {@code every}. */
    void until(long deadline, Duration every) throws InterruptedException {
      for (long now = System.nanoTime(); now < deadline; now = System.nanoTime()) {
        TimeUnit.NANOSECONDS.sleep(Math.min(every.toNanos(), deadline - now)); // pacing the display, not a wait
        show(System.nanoTime());
      }
    }

    void event(String what) {
      if (terminal) {
        out.print("\r\033[K");
      }
      out.printf(Locale.ROOT, "[%5.1f s] %s%n", (System.nanoTime() - start) / 1e9, what);
    }

    void done() {
      if (terminal) {
        out.println();
      }
    }

    private void show(long now) {
      long trips = ping.roundTrips();
      double rate = (trips - lastTrips) / ((now - lastNanos) / 1e9);
      String line = String.format(Locale.ROOT, "[%5.1f s] pingpong: %d round trips, %.0f/s", (now - start) / 1e9,
          trips, rate);
      lastNanos = now;
      lastTrips = trips;
      if (terminal) {
        out.print("\r\033[K" + line);
        out.flush();
      } else if (now - lastPrinted >= TimeUnit.SECONDS.toNanos(1)) {
        out.println(line);
        lastPrinted = now;
      }
    }
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }
}
