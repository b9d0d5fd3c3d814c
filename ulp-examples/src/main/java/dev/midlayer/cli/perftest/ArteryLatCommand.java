package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import picocli.CommandLine.Command;

/**
 * {@code midlayer perftest artery_lat}: raw Artery round trips between two JVMs, the anchor of the cluster
 * driver's {@code *_lat} tests: one {@code -s}-byte message out, the same back. Same columns and JSON keys as
 * {@code send_lat} (times are half round trips).
 */
@Command(name = "artery_lat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Raw Artery round trips between two JVMs (server/client), the anchor of the cluster driver's "
        + "latency tests.", "Columns as send_lat: half round trips in usec."})
final class ArteryLatCommand extends ArteryCommandBase {
  @Override
  PerftestOutput runClient(ActorSystem system, ActorRef server) throws Exception {
    Histogram rtt = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
    long[] minMax = {Long.MAX_VALUE, 0};
    CompletableFuture<Void> done = new CompletableFuture<>();
    system.actorOf(ArteryAnchor.LatClient.props(server, size, warmup, iterations, rtt, minMax, done));
    await(done);
    // Half round trips, as the verbs *_lat tests report them.
    return OneSidedLatCommand.row("artery_lat", size, iterations, rtt, minMax[0], minMax[1], 2);
  }

  @Override
  void print(PrintWriter out, PerftestOutput row) {
    PerftestOutput.print(out, json, OneSidedLatCommand.HEADER, OneSidedLatCommand.KEYS, row);
  }
}
