package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code midlayer perftest artery_bw}: raw Artery message bandwidth between two JVMs, the anchor of the cluster
 * driver's {@code *_bw} tests: {@code -s}-byte messages, at most {@code -t} in flight (see {@link ArteryAnchor}).
 * Same columns and JSON keys as {@code send_bw}; no peak is kept ({@code bw_peak_mib_s} is the average).
 */
@Command(name = "artery_bw", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Raw Artery message bandwidth between two JVMs (server/client), the anchor of the cluster "
        + "driver's bandwidth tests.", "Columns: #bytes #iterations BW peak BW average[MiB/sec] MsgRate[Mpps]."})
final class ArteryBwCommand extends ArteryCommandBase {
  @Mixin
  BwReportOptions report;

  @Option(names = {"-t", "--tx-depth"}, defaultValue = "128", paramLabel = "MSGS",
      description = "Window: messages in flight (default ${DEFAULT-VALUE}).")
  int window;

  @Override
  void validate() {
    bound("--tx-depth", window, 1, LIMITS.maxQpWr(), "max_qp_wr, as the verbs tests");
  }

  @Override
  PerftestOutput runClient(ActorSystem system, ActorRef server) throws Exception {
    CompletableFuture<ArteryAnchor.BwResult> f = new CompletableFuture<>();
    system.actorOf(ArteryAnchor.BwClient.props(server, size, warmup, iterations, window, f));
    ArteryAnchor.BwResult r = await(f);
    double seconds = r.nanos() / 1e9;
    double mib = (double) r.messages() * size / (1024.0 * 1024.0) / seconds;
    return new PerftestOutput("artery_bw", size, r.messages(), 1)
        .put("bw_peak_mib_s", mib)
        .put("bw_avg_mib_s", mib)
        .put("msg_rate_mpps", r.messages() / seconds / 1e6);
  }

  @Override
  void print(PrintWriter out, PerftestOutput row) {
    PerftestOutput.printBw(out, json, report.gbits, java.util.List.of(row));
  }
}
