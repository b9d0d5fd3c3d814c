package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code midlayer perftest send_bw}: {@code ib_send_bw} on the loopback fabric (or across JVMs with --fabric cluster).
 *
 * <p>How it measures: the server side pre-posts {@code -r} receives per QP (perftest's rx-depth, 512 by
 * default, so that a server in another JVM, which re-posts on its own thread, keeps ahead of a window of
 * {@code -t} sends and never answers with an RNR NAK) and re-posts one per receive completion; the client keeps up to {@code -t} sends outstanding per QP until {@code -n} messages (in all,
 * spread evenly over the {@code -q} QPs) have completed. Time runs from the first post to the last send
 * completion (every send completes after its receive completed: RC). A warm-up phase of {@code --warmup}
 * messages runs the same way first and is not measured: unlike perftest's C, the data path here is
 * interpreted until the JIT has compiled it, which on 2 cores takes about a second of traffic. One thread, the command's, polls
 * both CQs: on a machine with 2 cores a separate server thread would only take the core from the
 * loopback driver's actors. Each round it polls the client CQ, then drains the server CQ (re-posting
 * receives), then tops up the send windows; so a send is only posted after the receives of all
 * completed sends were re-posted, and the responder never runs out of receives (no RNR).
 *
 * <p>With the environment variable {@code PERFTEST_TRACE} set, the rate of every {@link #PEAK_INTERVAL_MS}
 * interval (warm-up included) goes to stderr: that shows the JIT warm-up and any stall.
 *
 * <p>Selective signaling as perftest's {@code --cq-mod}: every {@code -Q}-th send of a QP (and its last)
 * is SIGNALED; a signaled completion means every earlier send of that QP completed too.
 */
@Command(name = "send_bw", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Send bandwidth test (ib_send_bw) over RC QP pairs on the loopback fabric (or across JVMs with --fabric cluster).",
        "Columns: #bytes #iterations BW peak[MiB/sec] BW average[MiB/sec] MsgRate[Mpps] (aggregate over all QPs).",
        "BW peak is the best rate over intervals of at least " + SendBwCommand.PEAK_INTERVAL_MS
            + " ms; a run shorter than that reports the average as the peak.",
        "-n counts messages in all, not per QP (unlike perftest): with -q Q each QP carries n/Q.",
        "--warmup messages run first, the same way, and are not measured (the JIT compiles the data path)."})
final class SendBwCommand extends PerftestCommandBase {
  static final long PEAK_INTERVAL_MS = PeakMeter.INTERVAL_MS;

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
      description = "Messages in all, over all QPs (default ${DEFAULT-VALUE}).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "1000000",
      description = "Messages sent first, the same way, and not measured: the JIT compiles the data path meanwhile "
          + "(default ${DEFAULT-VALUE}).")
  long warmup;

  @Option(names = {"-q", "--qp"}, defaultValue = "1", description = "Number of QP pairs (default ${DEFAULT-VALUE}).")
  int qps;

  @Option(names = {"-r", "--rx-depth"}, defaultValue = "512", paramLabel = "WRS",
      description = "Receives the server keeps posted per QP (default ${DEFAULT-VALUE}).")
  int rxDepth;

  @Option(names = {"-a", "--all"}, description = "Sweep message sizes 2 B .. 8 MiB in powers of two, one result "
      + "line per size as it finishes; iterations and warm-up per size are min(-n, max(64, 512 MiB / size)) "
      + "(the server must be given -a too).")
  boolean all;

  @Option(names = {"-Q", "--cq-mod"}, defaultValue = "16",
      description = "Signal every this many sends per QP (capped at -t; 1 signals every send; default ${DEFAULT-VALUE}).")
  int cqMod;

  @Override
  void run(PrintWriter out) throws Exception {
    transport.check(this);
    bound("--qp", qps, 1, LIMITS.maxQp(), "max_qp");
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--cq-mod", cqMod, 1, LIMITS.maxQpWr(), "max_qp_wr");
    bound("--post-list", postList.postList, 1, transport.txDepth, "--tx-depth");
    bound("--rx-depth", rxDepth, 1, LIMITS.maxQpWr(), "max_qp_wr");
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    PerftestSetup.Role role = fabric.role(spec);
    CompletionWaiter waiter = new CompletionWaiter(transport.events);
    int[] sizes = OneSidedSizes.sizes(all, transport.size, false);
    int maxSize = sizes[sizes.length - 1];
    QpType type = connection.type(this);
    PerftestSetup.Spec spec = new PerftestSetup.Spec(qps, maxSize, transport.txDepth, rxDepth,
        transport.inlineSize, false, waiter.handler(), waiter.handler()).withType(type);
    PerftestOutput.Table table = PerftestOutput.bwTable(out, json, report.gbits);
    // A sweep's receives take 8 MiB: both ends must agree on it, as on the test.
    try (PerftestSetup setup = PerftestSetup.create(spec, role, all ? "send_bw -a" : "send_bw",
        fabric.addressOf(role, this.spec), this.spec.commandLine().getErr())) {
      header(setup, "send_bw", transport.txDepth, Math.min(cqMod, transport.txDepth), transport.inlineSize);
      RunControl control = control(transport.duration, role != PerftestSetup.Role.SERVER);
      if (role == PerftestSetup.Role.SERVER) {
        new Run(setup, waiter, control, maxSize, maxSize).serve();
        setup.awaitClientResult().forEach(table::row);
      } else {
        List<PerftestOutput> rows = new java.util.ArrayList<>();
        waiter.bind();
        for (int k = 0; k < sizes.length && !control.stopping(); k++) {
          Run run = new Run(setup, waiter, control, sizes[k], maxSize);
          if (k == 0 && setup.serverQps != null) {
            run.postAllRecvs(); // once: each completion re-posts its receive, whatever the size
          }
          long n = OneSidedSizes.iterations(all, iterations, sizes[k], OneSidedSizes.BW_BUDGET,
              OneSidedSizes.BW_FLOOR);
          PerftestOutput row = run.run(n, all ? Math.min(warmup, n) : warmup);
          if (row != null) {
            control.clearProgress();
            table.row(row);
            rows.add(row);
          }
        }
        setup.handOver(rows);
      }
    }
    table.end();
  }

  /** One run's state; every field is touched by the command's thread only. */
  private final class Run {
    private final PerftestSetup s;
    private final CompletionWaiter waiter;
    private final int window = transport.txDepth;
    private final SendWindow sends;
    private final PeakMeter meter = PeakMeter.elapsed();
    private final RecvWr[] recvs;
    private final WorkCompletion[] clientWcs = new WorkCompletion[CompletionQueue.POLL_BATCH * 4];
    private final WorkCompletion[] serverWcs = new WorkCompletion[CompletionQueue.POLL_BATCH * 4];

    private final RunControl control;
    private final int size;

    /** Messages of {@code size} bytes; the server's receives take {@code recvSize}. */
    Run(PerftestSetup s, CompletionWaiter waiter, RunControl control, int size, int recvSize) {
      this.s = s;
      this.waiter = waiter;
      this.control = control;
      this.size = size;
      SendWr[] unsignaled = new SendWr[qps];
      SendWr[] signaled = new SendWr[qps];
      recvs = new RecvWr[qps];
      int flags = transport.inlineFlag(size);
      for (int i = 0; i < qps; i++) {
        // wr_id = the QP's index: completions say which window they free. Built once, posted again and again.
        if (s.clientQps != null) {
          unsignaled[i] = SendWr.send(i, flags, PerftestSetup.sges(s.clientMrs[i], size));
          signaled[i] = SendWr.send(i, flags | SendFlags.SIGNALED,
              PerftestSetup.sges(s.clientMrs[i], size));
        }
        if (s.serverQps != null) {
          recvs[i] = RecvWr.of(i, PerftestSetup.sges(s.serverMrs[i], recvSize));
        }
      }
      sends = s.clientQps == null ? null : new SendWindow("send_bw", s.clientQps, window,
          Math.min(cqMod, transport.txDepth), unsignaled, signaled, clientWcs.length, postList.postList);
    }

    /**
     * The server's end across JVMs: pre-posts the receives and re-posts one per receive completion until the
     * client's result arrived or its disconnect flushed them.
     */
    void serve() {
      waiter.bind();
      postAllRecvs();
      while (!s.clientDone()) {
        int m = drainServer();
        if (m < 0) {
          return;
        }
        if (m == 0) {
          waiter.idle("send_bw server", s.serverCq);
        } else {
          waiter.progressed();
        }
      }
    }

    void postAllRecvs() {
      for (int i = 0; i < qps; i++) {
        for (int k = 0; k < rxDepth; k++) {
          postRecv(i);
        }
      }
    }

    /** {@code w} messages of warm-up, then the row of {@code n}; null if a stop came before anything was measured. */
    PerftestOutput run(long n, long w) {
      if (w > 0) {
        phase(w, false);
        if (control.stopping()) {
          return null; // stopped in the warm-up: nothing measured
        }
      }
      long start = System.nanoTime();
      long done = phase(control.timed() ? Long.MAX_VALUE : n, true);
      long end = System.nanoTime();
      return done == 0 ? null : PeakMeter.row("send_bw", size, done, qps, end - start, meter.peakRate());
    }

    /**
     * Sends {@code total} messages spread over the QPs, from the first post to the last completion, or fewer
     * when the {@link RunControl} ends the phase ({@code -D}, a stop: what was posted completes); returns how many
     * completed. {@code meter.peakRate()} is then the best rate over the {@link #PEAK_INTERVAL_MS} intervals.
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
        int n = s.clientCq.poll(clientWcs);
        completed += sends.reap(clientWcs, n);
        int m = s.serverCq == null ? 0 : drainServer();
        sends.topUpReaped(n);
        if (n == 0) {
          if (m == 0) {
            if (s.serverCq == null) {
              waiter.idle("send_bw", s.clientCq);
            } else {
              waiter.idle("send_bw", s.clientCq, s.serverCq);
            }
          } else {
            waiter.progressed();
          }
          continue;
        }
        waiter.progressed();
        now = System.nanoTime();
        meter.sample(now, completed);
        control.progress(now, completed, total);
      }
      return completed;
    }

    /**
     * Takes every waiting receive completion and re-posts one receive for each; -1 once the client's
     * disconnect flushed them (a server across JVMs).
     */
    private int drainServer() {
      int total = 0;
      int n;
      while ((n = s.serverCq.poll(serverWcs)) > 0) {
        for (int k = 0; k < n; k++) {
          WorkCompletion wc = serverWcs[k];
          serverWcs[k] = null;
          if (!wc.ok()) {
            if (s.clientGone(wc)) {
              return -1;
            }
            throw PerftestException.failed("send_bw server CQ", wc);
          }
          postRecv((int) wc.wrId());
        }
        total += n;
      }
      return total;
    }

    private void postRecv(int i) {
      try {
        s.serverQps[i].postRecv(recvs[i]);
      } catch (PostException e) {
        throw new PerftestException("send_bw: postRecv on QP " + s.serverQps[i].qpNum() + " refused: "
            + e.getMessage(), e);
      }
    }
  }
}
