package dev.midlayer.cli.perftest;

import dev.midlayer.ib.QpType;
import picocli.CommandLine.Option;

/**
 * perftest's {@code -c}: the transport of the QPs, where the test is meaningful on more than RC. UC carries
 * SEND and RDMA WRITE without acknowledgements: a message that meets no receive is dropped, never retried.
 */
final class ConnectionTypeOption {
  @Option(names = {"-c", "--connection"}, defaultValue = "RC", paramLabel = "RC|UC",
      description = "Connection type: RC or UC (default ${DEFAULT-VALUE}).")
  String connection;

  /** The QP type {@code -c} names, or a usage error. */
  QpType type(PerftestCommandBase command) {
    String c = connection.toUpperCase(java.util.Locale.ROOT);
    command.require(c.equals("RC") || c.equals("UC"), "--connection must be RC or UC, was '" + connection + "'");
    return QpType.valueOf(c);
  }
}
