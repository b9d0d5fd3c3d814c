package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.cli.perftest.HostPorts;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ulp.kv.KvClient;
import dev.midlayer.ulp.kv.KvLayout;
import dev.midlayer.ulp.kv.KvServer;
import dev.midlayer.ulp.kv.KvStore;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer kv}: the key-value template ULP ({@code dev.midlayer.ulp.kv}) as a benchmark: the keys are loaded
 * with PUTs, then {@code --window} operations at a time run for {@code --seconds}, each finished one starting the
 * next from its completion (GETs with probability {@code --get-ratio}, on random keys); it prints GET and PUT rates
 * and latency percentiles, and the torn READs read again. By default both ends run in this JVM on two loopback
 * devices; {@code --server} serves a table from a cluster node until SIGINT or SIGTERM, and {@code --connect} runs
 * the benchmark from another JVM against it, over the cluster driver.
 */
@Command(name = "kv", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run the key-value template ULP (GET = one RDMA READ of the server's table, PUT = SEND) and "
        + "print GET/PUT rates and latency percentiles: between two loopback devices, or across JVMs with "
        + "--server and --connect.",
        "Example: midlayer kv --server --bind 10.0.0.1:18516 --keys 100000, then on another machine: "
        + "midlayer kv --connect 10.0.0.1:18516 --keys 100000"})
public final class KvCommand implements Callable<Integer> {
  static final long SERVICE_ID = 0x4D4C_4B56_0000_0000L; // "MLKV"
  /** Slots per key: two 4-slot windows per key fill a table to about 98 % of half its slots, so a quarter. */
  static final int SLOTS_PER_KEY = 4;

  @Spec
  CommandSpec spec;

  @Option(names = "--keys", defaultValue = "10000", description = "Keys loaded, 1..1048576 (default ${DEFAULT-VALUE}); "
      + "the table has " + SLOTS_PER_KEY + " slots per key.")
  int keys;

  @Option(names = {"-s", "--value-size"}, defaultValue = "64",
      description = "Value size in bytes, 1..4096 (default ${DEFAULT-VALUE}).")
  int valueSize;

  @Option(names = "--get-ratio", defaultValue = "0.9", description = "Share of GETs, 0..1 (default ${DEFAULT-VALUE}).")
  double getRatio;

  @Option(names = "--window", defaultValue = "16",
      description = "Operations in flight, 1.." + KvClient.MAX_WINDOW + " (default ${DEFAULT-VALUE}).")
  int window;

  @Option(names = "--seconds", defaultValue = "3", description = "How long the mix runs, 1..3600 (default ${DEFAULT-VALUE}).")
  int seconds;

  @Option(names = "--server", description = "Serve a table of --keys x " + SLOTS_PER_KEY + " slots of -s bytes "
      + "from a cluster node on --bind until SIGINT or SIGTERM, to clients of other JVMs (--connect).")
  boolean server;

  @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:" + DEFAULT_PORT,
      description = "Where --server listens (default ${DEFAULT-VALUE}; port 0 picks a free one).")
  String bind;

  @Option(names = "--connect", paramLabel = "HOST:PORT", description = "Run the benchmark against the kv server "
      + "there; its table must hold --keys keys of -s bytes.")
  String connect;

  /** The default port of --bind: perftest's 18515, plus one. */
  static final int DEFAULT_PORT = 18516;

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

  /**
   * {@code --server}: a cluster node on {@code host:port} with device {@code cl0} and the kv server on it, until
   * the node's actor system terminates (SIGINT or SIGTERM run CoordinatedShutdown, which unregisters the server
   * and the device and leaves the cluster). <b>May sleep</b>: the command's thread.
   */
  int serve(String host, int port, PrintStream out) throws Exception {
    ActorSystem<Void> system = ClusterEnds.startServer(host, port);
    try {
      Midlayer midlayer = Midlayer.get(system);
      Device device = await(ClusterFabric.get(system).addDevice("cl%d", 1)).device();
      KvLayout layout = layout();
      await(midlayer.registerClient(new KvServer(midlayer, "kv-server", d -> d == device, SERVICE_ID, layout)));
      out.printf(Locale.ROOT, "kv: serving a table of %d slots for values of up to %d bytes on %s at %s (GET: RDMA "
          + "READ, PUT: SEND); SIGINT or SIGTERM stops it%n", layout.slots(), layout.valueMax(), device.name(),
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
   * {@code --connect}: a cluster node that joins the server's at {@code host:port}, connects the kv client from its
   * device {@code cl0} to the server's, runs the benchmark, and leaves. <b>May sleep</b>: the command's thread.
   */
  int runAgainst(String host, int port, PrintStream out) throws Exception {
    ActorSystem<Void> system = ClusterEnds.startClient("kv", host, port);
    try {
      Midlayer midlayer = Midlayer.get(system);
      ClusterFabric fabric = ClusterFabric.get(system);
      Device device = await(fabric.addDevice("cl%d", 1)).device();
      KvClient kvClient = new KvClient(midlayer, "kv-client",
          d -> d == device ? Optional.of(ClusterEnds.server(host, port)) : Optional.empty(), SERVICE_ID, window);
      ClientId client = await(midlayer.registerClient(kvClient));
      try {
        KvStore store = kvClient.store(device).orElseThrow(() -> new IllegalStateException("the kv client on "
            + device.name() + " did not connect to " + ClusterEnds.SERVER_DEVICE + " at " + host + ":" + port
            + " (the log says why)"));
        KvLayout table = store.layout();
        if (valueSize > table.valueMax() || (long) keys * SLOTS_PER_KEY > table.slots()) {
          out.printf(Locale.ROOT, "FAILED: the server's table (%d slots, values of up to %d bytes) does not hold "
              + "%d keys of %d bytes%n", table.slots(), table.valueMax(), keys, valueSize);
          return 1;
        }
        // The connection manager spoke through Artery actors; the data path needs the server's port routed.
        await(fabric.whenRoutable(kvClient.serverGid(device).orElseThrow()));
        return benchmark(store, device.name() + " -> " + ClusterEnds.SERVER_DEVICE + " at " + host + ":" + port,
            out);
      } finally {
        await(midlayer.unregisterClient(client));
      }
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  private KvLayout layout() {
    return new KvLayout(Math.max(KvLayout.PROBE, SLOTS_PER_KEY * keys), valueSize);
  }

  /** Refuses out-of-range options before anything is allocated (usage error, exit code 2). */
  void checkOptions() {
    Bounds.check(spec, "--keys", keys, 1, 1 << 20);
    Bounds.check(spec, "--value-size", valueSize, 1, 4096);
    Bounds.check(spec, "--window", window, 1, KvClient.MAX_WINDOW);
    Bounds.check(spec, "--seconds", seconds, 1, 3600);
    if (server && connect != null) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "give at most one of --server and --connect");
    }
    long tableBytes = (long) SLOTS_PER_KEY * keys * new KvLayout(KvLayout.PROBE, valueSize).slotSize();
    if (tableBytes > KvLayout.MAX_TABLE_BYTES) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--keys x " + SLOTS_PER_KEY
          + " slots x the slot size must be "
          + "<= " + (KvLayout.MAX_TABLE_BYTES >> 20) + " MiB, was " + (tableBytes >> 20) + " MiB");
    }
    if (!(getRatio >= 0 && getRatio <= 1)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--get-ratio must be 0..1, was "
          + getRatio);
    }
  }

  /** Runs the benchmark on {@code system} between two loopback devices, printing to {@code out}; the exit code. */
  int run(ActorSystem<?> system, PrintStream out) throws Exception {
    Midlayer midlayer = Midlayer.get(system);
    LoopbackFabric fabric = new LoopbackFabric(midlayer);
    LoopbackDevice lo0 = await(fabric.addDevice("lo%d", 1));
    LoopbackDevice lo1 = await(fabric.addDevice("lo%d", 1));
    Device serverDevice = lo0.device();
    ClientId server = await(midlayer.registerClient(new KvServer(midlayer, "kv-server", d -> d == serverDevice,
        SERVICE_ID, layout())));
    KvClient kvClient = new KvClient(midlayer, "kv-client", d -> d == serverDevice ? Optional.empty()
        : Optional.of(CmDestination.gid(serverDevice.cachedPort(1).gids().get(0))), SERVICE_ID, window);
    ClientId client = await(midlayer.registerClient(kvClient));
    try {
      KvStore store = kvClient.store(lo1.device()).orElseThrow(() -> new IllegalStateException(
          "the kv client did not connect from " + lo1.name()));
      return benchmark(store, lo1.name() + " -> " + lo0.name(), out);
    } finally {
      await(midlayer.unregisterClient(client));
      await(midlayer.unregisterClient(server));
      for (LoopbackDevice d : fabric.devices()) {
        await(fabric.removeDevice(d));
      }
    }
  }

  /** Loads the keys through {@code store}, runs the mix and prints the rows; the exit code. */
  private int benchmark(KvStore store, String path, PrintStream out) throws Exception {
    out.printf(Locale.ROOT, "kv: %d keys of %d bytes, %.0f %% GETs, %d in flight, %s (GET: RDMA READ, PUT: SEND)%n",
        keys, valueSize, getRatio * 100, window, path);
    load(store);
    store.takeGetLatency();
    store.takePutLatency();
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch lanes = new CountDownLatch(window);
    for (int i = 0; i < window; i++) {
      new Lane(store, end, new SplittableRandom(i), failure, lanes).next();
    }
    if (!lanes.await(seconds + 60L, TimeUnit.SECONDS)) {
      out.println("FAILED: " + lanes.getCount() + " operations unanswered 60 s after the end");
      return 1;
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    if (failure.get() != null) {
      out.println("FAILED: " + failure.get().getMessage());
      return 1;
    }
    print(out, "GET", store.takeGetLatency(), elapsed);
    print(out, "PUT", store.takePutLatency(), elapsed);
    out.printf("torn READs read again: %d%n", store.tornReads());
    return 0;
  }

  private void load(KvStore store) throws Exception {
    CompletableFuture<?>[] puts = new CompletableFuture<?>[keys];
    for (int k = 0; k < keys; k++) {
      puts[k] = store.put(key(k), value(k, 0)).toCompletableFuture();
    }
    CompletableFuture.allOf(puts).get(120, TimeUnit.SECONDS);
  }

  /** One operation at a time, the next started from the completion of the last, until the end. */
  private final class Lane {
    private final KvStore store;
    private final long end;
    private final SplittableRandom random;
    private final AtomicReference<Throwable> failure;
    private final CountDownLatch done;

    Lane(KvStore store, long end, SplittableRandom random, AtomicReference<Throwable> failure, CountDownLatch done) {
      this.store = store;
      this.end = end;
      this.random = random;
      this.failure = failure;
      this.done = done;
    }

    /** Never blocks: runs on the caller's thread first, then in the store's completion callbacks. */
    void next() {
      if (System.nanoTime() >= end || failure.get() != null) {
        done.countDown();
        return;
      }
      int k = random.nextInt(keys);
      CompletionStage<?> op = random.nextDouble() < getRatio ? store.get(key(k))
          : store.put(key(k), value(k, random.nextInt(256)));
      op.whenComplete((v, e) -> {
        if (e != null) {
          failure.compareAndSet(null, e);
        }
        next();
      });
    }
  }

  private static byte[] key(int k) {
    return ByteBuffer.allocate(8).putLong(k).array();
  }

  private byte[] value(int k, int generation) {
    byte[] v = new byte[valueSize];
    java.util.Arrays.fill(v, (byte) (k + generation));
    return v;
  }

  private static void print(PrintStream out, String what, Histogram h, double seconds) {
    out.printf(Locale.ROOT, "%s %10d ops %10.0f ops/s   p50 %7.1f us   p99 %7.1f us   p99.9 %7.1f us   max %8.1f us%n",
        what, h.getTotalCount(), h.getTotalCount() / seconds, h.getValueAtPercentile(50) / 1e3,
        h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
