package dev.midlayer.cli.perftest;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The options of the perftests that run between two JVMs, in perftest's server/client style: the server waits
 * for one client run and exits, the client runs the test and both print the result.
 */
final class RemoteOptions {
  /** perftest's default port. */
  static final int DEFAULT_PORT = 18515;

  @Option(names = "--server", description = "Wait for one client run on --bind, then exit.")
  boolean server;

  @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:" + DEFAULT_PORT,
      description = "Where the server listens (default ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--connect", paramLabel = "HOST:PORT", description = "Run the test against the server there.")
  String connect;

  /** A host and a port. */
  record HostPort(String host, int port) {
    @Override
    public String toString() {
      return host + ":" + port;
    }
  }

  /** Checks that exactly one of --server and --connect is given. */
  void validate(CommandSpec spec) {
    if (server == (connect != null)) {
      throw new ParameterException(spec.commandLine(), "give exactly one of --server and --connect HOST:PORT");
    }
  }

  HostPort bindAddress(CommandSpec spec) {
    return parse(spec, "--bind", bind, "--bind");
  }

  HostPort connectAddress(CommandSpec spec) {
    return parse(spec, "--connect", connect, "--connect");
  }

  /**
   * {@code host:port} with a port 0..65535 (0 only for a listening address, {@code kind} "--bind": any free
   * port), or a usage error naming {@code option}.
   */
  static HostPort parse(CommandSpec spec, String kind, String value, String option) {
    int colon = value == null ? -1 : value.lastIndexOf(':');
    if (colon <= 0 || colon == value.length() - 1) {
      throw new ParameterException(spec.commandLine(), option + " must be HOST:PORT, was '" + value + "'");
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    boolean listening = kind.equals("--bind");
    if (port < 0 || port > 65535 || (port == 0 && !listening)) {
      throw new ParameterException(spec.commandLine(),
          option + ": port must be " + (listening ? "0" : "1") + "..65535, was '"
              + value.substring(colon + 1) + "'");
    }
    return new HostPort(value.substring(0, colon), port);
  }
}
