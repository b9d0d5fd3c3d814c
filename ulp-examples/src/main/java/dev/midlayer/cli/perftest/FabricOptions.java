package dev.midlayer.cli.perftest;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Where a verbs perftest runs: both ends in this JVM on the loopback fabric (the default), or one end in this
 * JVM on the cluster fabric, in perftest's server/client style ({@code --fabric cluster --server} waits for one
 * client run and exits; {@code --fabric cluster --connect HOST:PORT} runs the test against it). Both ends must be
 * given the same test options, as perftest's: the server refuses a client whose options differ.
 */
final class FabricOptions {
  /** The fabrics a perftest can run on. */
  enum Fabric {
    loopback,
    cluster
  }

  @Option(names = "--fabric", defaultValue = "loopback", paramLabel = "FABRIC",
      description = "loopback (both ends in this JVM) or cluster (one end per JVM, with --server or --connect; "
          + "default ${DEFAULT-VALUE}).")
  Fabric fabric;

  @Option(names = "--server", description = "With --fabric cluster: wait on --bind for one client run, print its "
      + "result, exit.")
  boolean server;

  @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:" + RemoteOptions.DEFAULT_PORT,
      description = "Where the server's cluster node listens (default ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--connect", paramLabel = "HOST:PORT",
      description = "With --fabric cluster: join the server's node there and run the test against it.")
  String connect;

  /** Which ends of the run this process holds. */
  PerftestSetup.Role role(CommandSpec spec) {
    if (fabric == Fabric.loopback) {
      if (server || connect != null) {
        throw new ParameterException(spec.commandLine(),
            "--server and --connect run one end per JVM: they need --fabric cluster");
      }
      return PerftestSetup.Role.BOTH;
    }
    if (server == (connect != null)) {
      throw new ParameterException(spec.commandLine(),
          "--fabric cluster runs one end per JVM: give exactly one of --server and --connect HOST:PORT");
    }
    // Parse now, so that a bad address is a usage error before anything starts.
    address(spec);
    return server ? PerftestSetup.Role.SERVER : PerftestSetup.Role.CLIENT;
  }

  /** The address of a {@link #role} other than BOTH, else null. */
  RemoteOptions.HostPort addressOf(PerftestSetup.Role role, CommandSpec spec) {
    return role == PerftestSetup.Role.BOTH ? null : address(spec);
  }

  /** The server's --bind or the client's --connect address. */
  RemoteOptions.HostPort address(CommandSpec spec) {
    return server ? RemoteOptions.parse(spec, "--bind", bind, "--bind")
        : RemoteOptions.parse(spec, "--connect", connect, "--connect");
  }
}
