package dev.midlayer.cli.perftest;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer perftest}: linux-rdma perftest's {@code ib_send_bw} and {@code ib_send_lat} on the
 * loopback fabric, client and server in one JVM, and {@code floor}: what the JVM and Pekko themselves
 * allow on this machine, the yardstick the data-path targets are stated against
 * (the README's performance section).
 */
@Command(name = "perftest", mixinStandardHelpOptions = true,
    description = "Data-path benchmarks on the loopback fabric, like linux-rdma perftest (client and server in "
        + "this JVM), and the floor they are measured against.",
    subcommands = {SendBwCommand.class, SendLatCommand.class, WriteBwCommand.class, ReadBwCommand.class,
        AtomicBwCommand.class, WriteLatCommand.class, ReadLatCommand.class, AtomicLatCommand.class,
        FloorCommand.class, ArteryBwCommand.class, ArteryLatCommand.class})
public final class PerftestCommand implements Runnable {

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** For tests and embedding: a command line whose root is {@code perftest}. */
  public static CommandLine commandLine() {
    return dev.midlayer.cli.UsageErrors.install(new CommandLine(new PerftestCommand()));
  }
}
