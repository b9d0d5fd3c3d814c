package dev.midlayer.cli;

import dev.midlayer.cli.perftest.HostPorts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer stat}: the transport counters of every port of a running node ({@code midlayer node},
 * {@code kv --server}, {@code rpc --server}), one line per port as iproute2's {@code rdma statistic show} prints
 * them: {@code link DEV/PORT} and each counter by its Linux name ({@code sent_pkts}, {@code rcvd_pkts},
 * {@code rcvd_rnr_err}, ...); with {@code qp}, one line per queue pair, as {@code rdma statistic qp show}:
 * {@code link DEV/PORT lqpn N type RC state RTS comm OWNER} and the QP's counters. It asks the node's {@link NodeAdmin} over Artery; it does not join the cluster.
 */
@Command(name = "stat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print the transport counters of a running node's ports, or with qp of its queue pairs (as rdma "
        + "statistic show and rdma statistic qp show do).",
        "Example: midlayer stat --connect 10.0.0.1:25520 cl0/1; midlayer stat qp --connect 10.0.0.1:25520"})
public final class StatCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Parameters(arity = "0..2", paramLabel = "[qp] [LINK]", description = "qp: one line per queue pair with its "
      + "counters (rdma statistic qp show) instead of one per port; LINK: only this device (DEV) or port (DEV/PORT).")
  List<String> args = new ArrayList<>();

  @Mixin
  NodeAddress node;

  /** Runs the command. <b>May sleep</b>: the command line's main thread, waiting for the node's answer. */
  @Override
  public Integer call() throws Exception {
    boolean qp = !args.isEmpty() && args.get(0).equals("qp");
    List<String> rest = qp ? args.subList(1, args.size()) : args;
    HostPorts.require(spec, rest.size() <= 1, "give at most one LINK, was " + String.join(" ", rest));
    String link = rest.isEmpty() ? null : rest.get(0);
    HostPorts.require(spec, link == null || link.matches("[^/\\s]+(/[0-9]+)?"),
        "LINK must be DEV or DEV/PORT, was '" + link + "'");
    String answer = node.ask(spec, qp ? "stat qp" : "stat");
    List<String> lines = answer.lines().toList();
    if (link != null) {
      String prefix = "link " + link + (link.contains("/") ? " " : "/");
      List<String> links = lines.stream().filter(l -> l.startsWith("link ")).map(l -> l.split(" ")[1]).toList();
      lines = lines.stream().filter(l -> l.startsWith(prefix)).toList();
      if (lines.isEmpty() && !qp) {
        throw new IllegalStateException("no link " + link + " on the node at " + node.connect + " (links: "
            + (links.isEmpty() ? "none" : String.join(", ", links)) + ")");
      }
    }
    lines.forEach(spec.commandLine().getOut()::println);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
