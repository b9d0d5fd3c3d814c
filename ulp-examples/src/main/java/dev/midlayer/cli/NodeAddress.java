package dev.midlayer.cli;

import dev.midlayer.cli.perftest.HostPorts;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** The options of the commands that ask a running node ({@code stat}, {@code res}): where, and how long to wait. */
final class NodeAddress {
  @Option(names = "--connect", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:25520",
      description = "The node's Artery address (default ${DEFAULT-VALUE}, midlayer node's default --bind).")
  String connect;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "" + AdminRequest.DEFAULT_TIMEOUT_SECONDS,
      description = "Give up when the node has not answered after this long (default ${DEFAULT-VALUE}).")
  int timeout;

  /**
   * Checks the options (usage errors), asks the node's {@link NodeAdmin} {@code request} and returns its answer;
   * an answer that is an error is thrown as one line. <b>May sleep</b> until the node answers or the timeout
   * passes: the command line's thread.
   */
  String ask(CommandSpec spec, String request) throws Exception {
    String[] at = HostPorts.parse(spec, "--connect", connect, false);
    HostPorts.require(spec, timeout >= 1 && timeout <= 3600, "--timeout must be 1..3600, was " + timeout);
    String answer = AdminRequest.ask(spec.name(), at[0], Integer.parseInt(at[1]), request,
        Duration.ofSeconds(timeout));
    NodeAdmin.failIfError(answer);
    return answer;
  }
}
