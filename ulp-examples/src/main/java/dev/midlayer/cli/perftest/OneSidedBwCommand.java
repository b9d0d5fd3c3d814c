package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What {@code write_bw}, {@code read_bw} and {@code atomic_bw} share: {@code ib_write_bw}, {@code ib_read_bw}
 * and {@code ib_atomic_bw} on the loopback fabric (or across JVMs with --fabric cluster).
 *
 * <p>How it measures: as {@code send_bw}, without receives. The server side only provides one registered MR
 * per QP (LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ | REMOTE_ATOMIC) that the client's RDMA WRITEs go to, its
 * RDMA READs come from, or its FETCH_AND_ADDs (8 bytes at the MR's start) add to; the server never polls.
 * The client (the command's thread) keeps up to {@code -t} WRs outstanding per QP until {@code -n} (in all,
 * spread over the {@code -q} QPs) have completed; every {@code -Q}-th WR of a QP (and its last) is signaled.
 * Time runs from the first post to the last completion, after a warm-up run the same way. With the environment
 * variable {@code PERFTEST_TRACE} set, the rate of every peak interval goes to stderr.
 */
abstract class OneSidedBwCommand extends PerftestCommandBase {
  static final int JIT_WARMUP_SIZE = 64;

  @Mixin
  TransportOptions transport;

  @Mixin
  FabricOptions fabric;

  @Mixin
  ConnectionTypeOption connection;

  @Mixin
  BwReportOptions report;

  @Mixin
  PostListOptions postList;

  @Option(names = {"-n", "--iterations"}, defaultValue = "100000",
      description = "Work requests in all, over all QPs (default ${DEFAULT-VALUE}; scaled down per size with -a).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "-1",
      description = "WRs of the message size run first, the same way, and not measured, after --jit-warmup "
          + "(default: 8 GiB / size, at least 1000 and at most 1000000; with -a at most the size's iterations). "
          + "Large messages need this much: the JIT recompiles the data path once it sees them, and with less the "
          + "measured run still contains that transition.")
  long warmup;

  @Option(names = "--jit-warmup", defaultValue = "500000",
      description = "WRs of " + JIT_WARMUP_SIZE + " bytes (same opcode and flags as the measured ones) run once before "
          + "everything else: the JIT compiles the data path in a fraction of a second, where large messages would "
          + "take many seconds of traffic to get there (default ${DEFAULT-VALUE}).")
  long jitWarmup;

  @Option(names = {"-q", "--qp"}, defaultValue = "1", description = "Number of QP pairs (default ${DEFAULT-VALUE}).")
  int qps;

  @Option(names = {"-Q", "--cq-mod"}, defaultValue = "16",
      description = "Signal every this many WRs per QP (capped at -t; default ${DEFAULT-VALUE}).")
  int cqMod;

  @Option(names = {"-a", "--all"}, description = OneSidedSizes.SWEEP_HELP)
  boolean all;

  /** The test's name in the output. */
  abstract String test();

  /** The opcode of every WR. */
  abstract WrOpcode opcode();

  boolean atomic() {
    return opcode() == WrOpcode.ATOMIC_FETCH_AND_ADD;
  }

  @Override
  void run(PrintWriter out) throws Exception {
    checkAtomicSize(atomic(), transport.size);
    transport.check(this);
    bound("--qp", qps, 1, LIMITS.maxQp(), "max_qp");
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--cq-mod", cqMod, 1, LIMITS.maxQpWr(), "max_qp_wr");
    bound("--post-list", postList.postList, 1, transport.txDepth, "--tx-depth");
    bound("--jit-warmup", jitWarmup, 0, Long.MAX_VALUE);
    int[] sizes = OneSidedSizes.sizes(all, transport.size, atomic());
    int maxSize = sizes[sizes.length - 1];
    PerftestSetup.Role role = fabric.role(spec);
    CompletionWaiter waiter = new CompletionWaiter(transport.events);
    QpType type = connection.type(this);
    require(type == QpType.RC || opcode() == WrOpcode.RDMA_WRITE,
        test() + " needs RC: UC carries no RDMA READ or atomics");
    PerftestSetup.Spec spec = new PerftestSetup.Spec(qps, maxSize, transport.txDepth, 1,
        opcode() == WrOpcode.RDMA_WRITE ? transport.inlineSize : 0, false, waiter.handler(), waiter.handler(),
        maxSize, PerftestSetup.REMOTE_ACCESS).withType(type);
    PerftestOutput.Table table = PerftestOutput.bwTable(out, json, report.gbits);
    try (PerftestSetup setup = PerftestSetup.create(spec, role, test(), fabric.addressOf(role, this.spec),
        this.spec.commandLine().getErr())) {
      header(setup, test(), transport.txDepth, Math.min(cqMod, transport.txDepth),
          opcode() == WrOpcode.RDMA_WRITE ? transport.inlineSize : 0);
      if (role == PerftestSetup.Role.SERVER) {
        // The server end runs no code of its own: its driver places the WRITEs, answers READs and atomics.
        setup.awaitClientResult().forEach(table::row);
      } else {
        setup.handOver(runClient(setup, waiter, sizes, table, control(transport.duration, true)));
      }
    }
    table.end();
  }

  /**
   * The client's end (both ends in this JVM on loopback): every size's run, after the JIT warm-up, each row
   * printed to {@code table} as it is measured; until a stop, after which no size runs.
   */
  private List<PerftestOutput> runClient(PerftestSetup setup, CompletionWaiter waiter, int[] sizes,
      PerftestOutput.Table table, RunControl control) {
    List<PerftestOutput> rows = new ArrayList<>();
    waiter.bind();
    if (jitWarmup > 0) {
      new Run(setup, waiter, control, Math.min(JIT_WARMUP_SIZE, sizes[0]), sizes[0]).phase(jitWarmup, false);
    }
    for (int size : sizes) {
      if (control.stopping()) {
        break;
      }
      long n = control.timed() ? Long.MAX_VALUE
          : OneSidedSizes.iterations(all, iterations, size, OneSidedSizes.BW_BUDGET, OneSidedSizes.BW_FLOOR);
      long w = warmup >= 0 ? warmup : Math.max(1000, Math.min(1_000_000, (8L << 30) / size));
      if (all) {
        w = Math.min(w, n);
      }
      PerftestOutput row = new Run(setup, waiter, control, size, size).measure(n, w);
      if (row != null) {
        control.clearProgress();
        table.row(row);
        rows.add(row);
      }
    }
    return rows;
  }

  /** One size's state; every field is touched by the command's thread only. */
  private final class Run {
    private final PerftestSetup s;
    private final CompletionWaiter waiter;
    private final int size;
    private final SendWindow sends;
    private final PeakMeter meter;
    private final WorkCompletion[] wcs = new WorkCompletion[CompletionQueue.POLL_BATCH * 4];
    private final RunControl control;

    /** WRs of {@code size} bytes, with the flags (INLINE or not) WRs of {@code flagsOf} bytes get. */
    Run(PerftestSetup s, CompletionWaiter waiter, RunControl control, int size, int flagsOf) {
      this.s = s;
      this.waiter = waiter;
      this.control = control;
      this.size = size;
      SendWr[] unsignaled = new SendWr[qps];
      SendWr[] signaled = new SendWr[qps];
      int flags = opcode() == WrOpcode.RDMA_WRITE && flagsOf <= transport.inlineSize ? SendFlags.INLINE : 0;
      for (int i = 0; i < qps; i++) {
        // wr_id = the QP's index: completions say which window they free. Built once, posted again and again.
        unsignaled[i] = wr(i, flags, s.clientMrs[i], s.serverMrsRemote[i]);
        signaled[i] = wr(i, flags | SendFlags.SIGNALED, s.clientMrs[i], s.serverMrsRemote[i]);
      }
      sends = new SendWindow(test(), s.clientQps, transport.txDepth, Math.min(cqMod, transport.txDepth), unsignaled,
          signaled, wcs.length, postList.postList);
      meter = PeakMeter.bandwidth(size);
    }

    private SendWr wr(int i, int flags, MemoryRegion local, PerftestSetup.RemoteMr remote) {
      SendWr.Builder b = SendWr.builder(opcode()).wrId(i).flags(flags).sge(Sge.of(local, 0, size))
          .remote(remote.iova(), remote.rkey());
      if (atomic()) {
        b.atomic(1, 0);
      }
      return b.build();
    }

    /** The row of {@code n} WRs after {@code w} of warm-up; null if a stop came before anything was measured. */
    PerftestOutput measure(long n, long w) {
      if (w > 0) {
        phase(w, false);
        if (control.stopping()) {
          return null;
        }
      }
      long start = System.nanoTime();
      long done = phase(n, true);
      long end = System.nanoTime();
      return done == 0 ? null : PeakMeter.row(test(), size, done, qps, end - start, meter.peakRate());
    }

    /**
     * {@code total} WRs over the QPs, first post to last completion, or fewer when the {@link RunControl} ends
     * the phase (what was posted completes); returns how many completed ({@code meter.peakRate()}: the best
     * interval rate in WRs per ns).
     */
    private long phase(long total, boolean measured) {
      sends.reset(total);
      long completed = 0;
      boolean ending = false;
      meter.start();
      long now = System.nanoTime();
      control.begin(measured, size + " B", now);
      sends.topUpAll();
      while (completed < total) {
        if (!ending && control.over(now)) {
          ending = true;
          total = sends.finish();
          if (completed >= total) {
            break;
          }
        }
        int n = s.clientCq.poll(wcs);
        if (n == 0) {
          waiter.idle(test(), s.clientCq);
          continue;
        }
        waiter.progressed();
        completed += sends.reap(wcs, n);
        sends.topUpReaped(n);
        now = System.nanoTime();
        meter.sample(now, completed);
        control.progress(now, completed, total);
      }
      return completed;
    }
  }
}
