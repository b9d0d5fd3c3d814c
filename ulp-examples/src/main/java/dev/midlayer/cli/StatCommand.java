package dev.midlayer.cli;

import dev.midlayer.cli.perftest.HostPorts;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer stat}: the transport counters of every port of a running node ({@code midlayer node},
 * {@code kv --server}, {@code rpc --server}), one line per port as iproute2's {@code rdma statistic show} prints
 * them: {@code link DEV/PORT} and each counter by its Linux name ({@code sent_pkts}, {@code rcvd_pkts},
 * {@code rcvd_rnr_err}, ...). It asks the node's {@link NodeAdmin} over Artery; it does not join the cluster.
 */
@Command(name = "stat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print the transport counters of a running node's ports (as rdma statistic show does).",
        "Example: midlayer stat --connect 10.0.0.1:25520 cl0/1"})
public final class StatCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Parameters(arity = "0..1", paramLabel = "LINK", description = "Only this device (DEV) or port (DEV/PORT).")
  String link;

  @Option(names = "--connect", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:25520",
      description = "The node's Artery address (default ${DEFAULT-VALUE}, midlayer node's default --bind).")
  String connect;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "" + AdminRequest.DEFAULT_TIMEOUT_SECONDS,
      description = "Give up when the node has not answered after this long (default ${DEFAULT-VALUE}).")
  int timeout;

  /** Runs the command. <b>May sleep</b>: the command line's main thread, waiting for the node's answer. */
  @Override
  public Integer call() throws Exception {
    String[] at = HostPorts.parse(spec, "--connect", connect, false);
    HostPorts.require(spec, timeout >= 1 && timeout <= 3600, "--timeout must be 1..3600, was " + timeout);
    HostPorts.require(spec, link == null || link.matches("[^/\\s]+(/[0-9]+)?"),
        "LINK must be DEV or DEV/PORT, was '" + link + "'");
    String answer = AdminRequest.ask("stat", at[0], Integer.parseInt(at[1]), "stat",
        Duration.ofSeconds(timeout));
    NodeAdmin.failIfError(answer);
    List<String> lines = answer.lines().toList();
    if (link != null) {
      String prefix = "link " + link + (link.contains("/") ? " " : "/");
      List<String> links = lines.stream().filter(l -> l.startsWith("link ")).map(l -> l.split(" ")[1]).toList();
      lines = lines.stream().filter(l -> l.startsWith(prefix)).toList();
      if (lines.isEmpty()) {
        throw new IllegalStateException("no link " + link + " on the node at " + connect + " (links: "
            + (links.isEmpty() ? "none" : String.join(", ", links)) + ")");
      }
    }
    lines.forEach(spec.commandLine().getOut()::println);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
