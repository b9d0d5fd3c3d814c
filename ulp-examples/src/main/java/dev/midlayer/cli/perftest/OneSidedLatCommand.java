package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What {@code read_lat} and {@code atomic_lat} share ({@code ib_read_lat}, {@code ib_atomic_lat}): one RC QP
 * pair; the client (the command's thread) takes {@link System#nanoTime}, posts one signaled RDMA READ (or
 * 8-byte FETCH_AND_ADD) to the server's MR and polls its CQ until that WR's completion; the server side never
 * runs code of its own (the driver answers). The full round trip, post to completion, is reported as is (as
 * perftest does for READ and atomics), after {@code --warmup} rounds that are not recorded.
 */
abstract class OneSidedLatCommand extends PerftestCommandBase {
  @Mixin
  TransportOptions transport;

  @Mixin
  FabricOptions fabric;

  @Mixin
  ConnectionTypeOption connection;

  @Option(names = {"-n", "--iterations"}, defaultValue = "10000",
      description = "Round trips measured (default ${DEFAULT-VALUE}; scaled down per size with -a).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Round trips run first and not recorded (default ${DEFAULT-VALUE}; with -a at most the size's "
          + "iterations).")
  long warmup;

  @Option(names = {"-a", "--all"}, description = OneSidedSizes.SWEEP_HELP)
  boolean all;

  abstract String test();

  abstract WrOpcode opcode();

  boolean atomic() {
    return opcode() == WrOpcode.ATOMIC_FETCH_AND_ADD;
  }

  /** Columns and JSON keys of every latency subcommand (as {@code send_lat}). */
  static final String[] HEADER = {"#bytes", "#iterations", "t_min[usec]", "t_max[usec]", "t_typical[usec]",
      "t_avg[usec]", "t_stdev[usec]", "99% percentile[usec]", "99.9% percentile[usec]"};
  static final String[] KEYS = {"bytes", "iterations", "t_min_us", "t_max_us", "t_typical_us", "t_avg_us",
      "t_stdev_us", "p99_us", "p999_us"};

  /** The latency row of recorded round trips in ns, each divided by {@code divisor} (2: half round trips). */
  static PerftestOutput row(String test, int size, long n, Histogram rtt, long min, long max, double divisor) {
    double d = divisor * 1000.0;
    return new PerftestOutput(test, size, n, 1)
        .put("t_min_us", min / d)
        .put("t_max_us", max / d)
        .put("t_typical_us", rtt.getValueAtPercentile(50) / d)
        .put("t_avg_us", rtt.getMean() / d)
        .put("t_stdev_us", rtt.getStdDeviation() / d)
        .put("p99_us", rtt.getValueAtPercentile(99) / d)
        .put("p999_us", rtt.getValueAtPercentile(99.9) / d);
  }

  @Override
  void run(PrintWriter out) throws Exception {
    checkAtomicSize(atomic(), transport.size);
    transport.check(this);
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    int[] sizes = OneSidedSizes.sizes(all, transport.size, atomic());
    int maxSize = sizes[sizes.length - 1];
    PerftestSetup.Role role = fabric.role(spec);
    CompletionWaiter waiter = new CompletionWaiter(transport.events);
    QpType type = connection.type(this);
    require(type == QpType.RC, test() + " needs RC: UC carries no RDMA READ or atomics");
    PerftestSetup.Spec spec = new PerftestSetup.Spec(1, maxSize, Math.max(1, transport.txDepth), 1, 0, true,
        waiter.handler(), waiter.handler(), maxSize, PerftestSetup.REMOTE_ACCESS).withType(type);
    List<PerftestOutput> rows = new ArrayList<>();
    PerftestOutput.Table table = new PerftestOutput.Table(out, json, HEADER, KEYS, true);
    WorkCompletion[] wcs = new WorkCompletion[CompletionQueue.POLL_BATCH];
    try (PerftestSetup s = PerftestSetup.create(spec, role, test(), fabric.addressOf(role, this.spec),
        this.spec.commandLine().getErr())) {
      header(s, test(), Math.max(1, transport.txDepth), 0, 0);
      if (role == PerftestSetup.Role.SERVER) {
        // The server end runs no code of its own: its driver answers the READs and atomics.
        s.awaitClientResult().forEach(table::row);
        table.end();
        return;
      }
      RunControl control = control(transport.duration, true);
      waiter.bind();
      QueuePair qp = s.clientQps[0];
      MemoryRegion local = s.clientMrs[0];
      PerftestSetup.RemoteMr remote = s.serverMrsRemote[0];
      for (int size : sizes) {
        if (control.stopping()) {
          break;
        }
        long n = control.timed() ? Long.MAX_VALUE - warmup
            : OneSidedSizes.iterations(all, iterations, size, OneSidedSizes.LAT_BUDGET, OneSidedSizes.LAT_FLOOR);
        long w = all ? Math.min(warmup, n) : warmup;
        SendWr.Builder b = SendWr.builder(opcode()).wrId(1).flags(SendFlags.SIGNALED).sge(Sge.of(local, 0, size))
            .remote(remote.iova(), remote.rkey());
        if (atomic()) {
          b.atomic(1, 0);
        }
        SendWr wr = b.build();
        Histogram rtt = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
        long min = Long.MAX_VALUE;
        long max = 0;
        long measured = 0;
        control.warmup(System.nanoTime());
        for (long i = 0; i < w + n; i++) {
          long t0 = System.nanoTime();
          if (i == w) {
            control.phase(size + " B", t0);
          }
          if (control.over(t0)) {
            break; // -D is up, or a stop: the round trips so far are the result
          }
          try {
            qp.postSend(wr);
          } catch (PostException e) {
            throw new PerftestException(test() + ": postSend refused: " + e.getMessage(), e);
          }
          long t1;
          while (true) {
            int got = s.clientCq.poll(wcs);
            if (got == 0) {
              waiter.idle(test(), s.clientCq);
              continue;
            }
            t1 = System.nanoTime();
            waiter.progressed();
            WorkCompletion wc = wcs[0];
            wcs[0] = null;
            if (!wc.ok()) {
              throw PerftestException.failed(test() + " client CQ", wc);
            }
            break;
          }
          if (i >= w) {
            long ns = t1 - t0;
            rtt.recordValue(ns);
            min = Math.min(min, ns);
            max = Math.max(max, ns);
            measured++;
            control.progress(t1, measured, n);
          }
        }
        if (measured > 0) {
          PerftestOutput row = row(test(), size, measured, rtt, min, max, 1);
          control.clearProgress();
          table.row(row);
          rows.add(row);
        }
      }
      s.handOver(rows);
    }
    table.end();
  }
}
