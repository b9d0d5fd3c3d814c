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
    double half = 2 * 1000.0; // ns of a round trip to us of half of it
    return new PerftestOutput("artery_lat", size, iterations, 1)
        .put("t_min_us", minMax[0] / half)
        .put("t_max_us", minMax[1] / half)
        .put("t_typical_us", rtt.getValueAtPercentile(50) / half)
        .put("t_avg_us", rtt.getMean() / half)
        .put("t_stdev_us", rtt.getStdDeviation() / half)
        .put("p99_us", rtt.getValueAtPercentile(99) / half)
        .put("p999_us", rtt.getValueAtPercentile(99.9) / half);
  }

  @Override
  void print(PrintWriter out, PerftestOutput row) {
    PerftestOutput.print(out, json,
        new String[] {"#bytes", "#iterations", "t_min[usec]", "t_max[usec]", "t_typical[usec]", "t_avg[usec]",
            "t_stdev[usec]", "99% percentile[usec]", "99.9% percentile[usec]"},
        new String[] {"bytes", "iterations", "t_min_us", "t_max_us", "t_typical_us", "t_avg_us", "t_stdev_us",
            "p99_us", "p999_us"}, row);
  }
}
