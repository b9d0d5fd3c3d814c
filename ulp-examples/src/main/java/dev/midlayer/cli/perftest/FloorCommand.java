package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code midlayer perftest floor}: what the JVM and Pekko allow on this machine, without the midlayer,
 * measured in the same process and on the same dispatcher as the data path. The data-path targets are
 * ratios to these numbers.
 *
 * <ul>
 *   <li><b>tell rate</b>: the command's thread tells one preallocated message {@code -n} times to a typed
 *       actor on the data-path dispatcher, which counts them into an {@link AtomicLong}; rate = n / (time from
 *       the first tell until the count reached n), after a warm-up of up to 1M tells. The sender keeps at
 *       most {@link #MAX_IN_FLIGHT} messages in the mailbox (like any producer with a window, as the data path
 *       has); {@code tell_rate_unbounded_mps} is the same without that bound (the sender only checks the
 *       count at the end), where a backlog of millions of mailbox nodes makes G1's young collections, not
 *       the tells, the cost (pauses of up to a second were seen on this machine).
 *   <li><b>actor RTT</b>: the command's thread tells an actor on the data-path dispatcher and spins
 *       ({@link Thread#onSpinWait}, then {@link Thread#yield}) until the actor's volatile write of the new count
 *       shows; the median of {@code --rounds} round trips after {@code --warmup-rounds}.
 *   <li><b>copy</b>: one thread copies one direct ByteBuffer into another with
 *       {@code ByteBuffer.put(int, ByteBuffer, int, int)}, 64 KiB and 1 MiB at a time, {@code --copy-mib}
 *       MiB per size after a quarter of that as warm-up.
 * </ul>
 *
 * <p>With the environment variable {@code PERFTEST_TRACE} set, the RTT percentiles go to stderr.
 */
@Command(name = "floor", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"The floor the data path is measured against: one-way tell rate to one actor on the data-path "
        + "dispatcher, thread-to-actor round trip (median), and single-thread direct-buffer copy bandwidth.",
        "The tell rate keeps at most " + FloorCommand.MAX_IN_FLIGHT + " messages in the mailbox; 'unbounded' is the "
            + "same with no bound (the sender looks at the count only at the end).",
        "Columns: tell rate[Mmsg/sec] unbounded[Mmsg/sec] actor RTT median[usec] copy 64KiB[GiB/sec] "
            + "copy 1MiB[GiB/sec]."})
final class FloorCommand extends PerftestCommandBase {
  /** Tells the tell-rate sender lets be outstanding (told, not yet counted) before it waits. */
  static final long MAX_IN_FLIGHT = 65_536;
  /** The sender reads the count once per this many tells (a power of two). */
  private static final long FLOW_CHECK = 1024;
  private static final boolean TRACE = System.getenv("PERFTEST_TRACE") != null;

  @Option(names = {"-n", "--iterations"}, defaultValue = "5000000",
      description = "Messages told for the tell rate (default ${DEFAULT-VALUE}).")
  long tells;

  @Option(names = "--rounds", defaultValue = "200000",
      description = "Round trips measured for the actor RTT (default ${DEFAULT-VALUE}).")
  long rounds;

  @Option(names = "--warmup-rounds", defaultValue = "20000",
      description = "Round trips run first and not recorded (default ${DEFAULT-VALUE}).")
  long warmupRounds;

  @Option(names = "--copy-mib", defaultValue = "4096",
      description = "MiB copied per buffer size (default ${DEFAULT-VALUE}).")
  long copyMib;

  /** The one message the floor actors get. */
  enum Tick { TICK }

  /** Counts what it gets into {@code count}: a plain (lazy) write, or a volatile one for round trips. */
  static final class Counter extends AbstractBehavior<Tick> {
    private final AtomicLong count;
    private final boolean volatileWrite;
    private long n;

    private Counter(ActorContext<Tick> ctx, AtomicLong count, boolean volatileWrite) {
      super(ctx);
      this.count = count;
      this.volatileWrite = volatileWrite;
    }

    static Behavior<Tick> create(AtomicLong count, boolean volatileWrite) {
      return Behaviors.setup(ctx -> new Counter(ctx, count, volatileWrite));
    }

    @Override
    public Receive<Tick> createReceive() {
      return newReceiveBuilder().onMessageEquals(Tick.TICK, this::onTick).build();
    }

    private Behavior<Tick> onTick() {
      if (volatileWrite) {
        count.set(++n);
      } else {
        count.lazySet(++n);
      }
      return this;
    }
  }

  @Override
  void run(PrintWriter out) throws Exception {
    bound("--iterations", tells, 1, Long.MAX_VALUE);
    bound("--rounds", rounds, 1, Long.MAX_VALUE);
    bound("--warmup-rounds", warmupRounds, 0, Long.MAX_VALUE);
    bound("--copy-mib", copyMib, 1, Long.MAX_VALUE);
    // The copies first, before the actor system's threads exist.
    double copy64k = copy(64 * 1024);
    double copy1m = copy(1024 * 1024);
    double tellRate;
    double tellRateUnbounded;
    double rttMedianUs;
    ActorSystem<Void> system = PerftestSetup.startSystem();
    try {
      String dataPath = system.settings().config().getString("midlayer.dispatchers.data-path");
      DispatcherSelector dispatcher = DispatcherSelector.fromConfig(dataPath);
      // The round trips before the tell floods, whose garbage would still be collected meanwhile.
      rttMedianUs = roundTrip(system, dispatcher);
      tellRate = tellRate(system, dispatcher, MAX_IN_FLIGHT, "perftest-floor-tell");
      tellRateUnbounded = tellRate(system, dispatcher, 0, "perftest-floor-tell-unbounded");
    } finally {
      PerftestSetup.stopSystem(system);
    }
    PerftestOutput row = new PerftestOutput("floor", 0, tells, 0)
        .put("tell_rate_mps", tellRate)
        .put("tell_rate_unbounded_mps", tellRateUnbounded)
        .put("actor_rtt_us", rttMedianUs)
        .put("copy_64k_gib_s", copy64k)
        .put("copy_1m_gib_s", copy1m);
    PerftestOutput.print(out, json,
        new String[] {"tell rate[Mmsg/sec]", "unbounded[Mmsg/sec]", "actor RTT median[usec]", "copy 64KiB[GiB/sec]",
            "copy 1MiB[GiB/sec]"},
        new String[] {"tell_rate_mps", "tell_rate_unbounded_mps", "actor_rtt_us", "copy_64k_gib_s", "copy_1m_gib_s"},
        row);
  }

  /**
   * Million messages per second from one thread to one actor: {@code tells} tells after a warm-up, timed
   * until the actor counted the last one. With {@code maxInFlight > 0} the sender lets at most that many
   * be told and not yet counted (it reads the count every {@link #FLOW_CHECK} tells); with 0 it never looks
   * until the end, and the mailbox backlog (millions of queue nodes) is mostly what gets measured: G1
   * copies it from young collection to young collection.
   */
  private double tellRate(ActorSystem<Void> system, DispatcherSelector dispatcher, long maxInFlight, String name) {
    AtomicLong count = new AtomicLong();
    ActorRef<Tick> actor = system.systemActorOf(Counter.create(count, false), name, dispatcher);
    Tick tick = Tick.TICK;
    long warm = Math.min(tells, 1_000_000);
    tell(actor, tick, count, 0, warm, maxInFlight);
    awaitCount(count, warm);
    long start = System.nanoTime();
    tell(actor, tick, count, warm, tells, maxInFlight);
    awaitCount(count, warm + tells);
    long nanos = System.nanoTime() - start;
    return tells * 1e3 / nanos;
  }

  private static void tell(ActorRef<Tick> actor, Tick tick, AtomicLong count, long before, long n, long maxInFlight) {
    for (long i = 0; i < n; i++) {
      if (maxInFlight > 0 && (i & (FLOW_CHECK - 1)) == 0) {
        awaitCount(count, before + i - maxInFlight);
      }
      actor.tell(tick);
    }
  }

  /** Median thread-to-actor-and-back time in microseconds. */
  private double roundTrip(ActorSystem<Void> system, DispatcherSelector dispatcher) {
    AtomicLong count = new AtomicLong();
    ActorRef<Tick> actor = system.systemActorOf(Counter.create(count, true), "perftest-floor-rtt", dispatcher);
    Histogram h = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
    Histogram block = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
    long total = warmupRounds + rounds;
    for (long i = 0; i < total; i++) {
      long t0 = System.nanoTime();
      actor.tell(Tick.TICK);
      awaitCount(count, i + 1);
      long ns = System.nanoTime() - t0;
      if (i >= warmupRounds) {
        h.recordValue(ns);
      }
      if (TRACE) {
        block.recordValue(ns);
        if ((i + 1) % 20_000 == 0) {
          System.err.printf("rtt rounds %d..%d: p50 %.3f us, p90 %.3f us%n", i + 1 - 20_000, i,
              block.getValueAtPercentile(50) / 1000.0, block.getValueAtPercentile(90) / 1000.0);
          block.reset();
        }
      }
    }
    if (TRACE) {
      for (double pct : new double[] {1, 10, 25, 50, 75, 90, 99}) {
        System.err.printf("rtt p%.0f %.3f us%n", pct, h.getValueAtPercentile(pct) / 1000.0);
      }
    }
    return h.getValueAtPercentile(50) / 1000.0;
  }

  /** Spins with back-off until {@code count} reaches {@code target}. */
  private static void awaitCount(AtomicLong count, long target) {
    int spins = 0;
    long deadline = 0;
    while (count.get() < target) {
      if (++spins < CompletionWaiter.SPINS) {
        Thread.onSpinWait();
        continue;
      }
      Thread.yield();
      long now = System.nanoTime();
      if (deadline == 0) {
        deadline = now + CompletionWaiter.STALL_NANOS;
      } else if (now > deadline) {
        throw new PerftestException("floor: the actor counted " + count.get() + " of " + target
            + " messages within 60 s of back-off");
      }
    }
  }

  /** GiB per second copying {@code size} bytes at a time between two direct buffers. */
  private double copy(int size) {
    ByteBuffer src = ByteBuffer.allocateDirect(size);
    ByteBuffer dst = ByteBuffer.allocateDirect(size);
    for (int i = 0; i < size; i++) {
      src.put(i, (byte) i);
    }
    long reps = Math.max(1, copyMib * 1024 * 1024 / size);
    for (long r = 0; r < Math.max(1, reps / 4); r++) {
      dst.put(0, src, 0, size);
    }
    long start = System.nanoTime();
    for (long r = 0; r < reps; r++) {
      dst.put(0, src, 0, size);
    }
    long nanos = System.nanoTime() - start;
    if (dst.get(size - 1) != src.get(size - 1)) {
      throw new PerftestException("floor: the copy did not copy");
    }
    return reps * (double) size / (1024.0 * 1024 * 1024) / (nanos / 1e9);
  }
}
