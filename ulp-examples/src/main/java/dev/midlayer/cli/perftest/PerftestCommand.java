package dev.midlayer.cli.perftest;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer perftest}: linux-rdma perftest's send, write, read and atomic tests, client and server in one
 * JVM on the loopback fabric, or one per JVM on the cluster fabric ({@code --fabric cluster --server} /
 * {@code --connect}; {@link FabricOptions}), the QPs connected by the connection manager in both cases;
 * {@code floor}: what the JVM and Pekko themselves allow on this machine, the yardstick the data-path targets
 * are stated against (the README's performance section); and {@code artery_bw}/{@code artery_lat}: raw Artery
 * messaging between two JVMs, the anchor of the cluster figures.
 */
@Command(name = "perftest", mixinStandardHelpOptions = true,
    description = "Data-path benchmarks like linux-rdma perftest: on the loopback fabric (client and server in "
        + "this JVM) or across JVMs (--fabric cluster --server | --connect HOST:PORT), the floor and the raw "
        + "Artery anchors they are measured against.",
    subcommands = {SendBwCommand.class, SendLatCommand.class, WriteBwCommand.class, ReadBwCommand.class,
        AtomicBwCommand.class, WriteLatCommand.class, ReadLatCommand.class, AtomicLatCommand.class,
        FloorCommand.class, ArteryBwCommand.class, ArteryLatCommand.class})
public final class PerftestCommand implements Runnable {

  @Spec
  CommandSpec spec;

  /** Without a test: a usage error naming the tests (exit code 2). */
  @Override
  public void run() {
    throw dev.midlayer.cli.UsageErrors.missingSubcommand(spec);
  }

  /**
   * For tests and embedding: a command line whose root is {@code perftest}. Never blocks; any thread (the
   * command line it returns runs on the thread that calls {@code execute}).
   */
  public static CommandLine commandLine() {
    return dev.midlayer.cli.UsageErrors.install(new CommandLine(new PerftestCommand()));
  }
}
