package dev.midlayer.cli;

import dev.midlayer.cli.perftest.HostPorts;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer res}: the objects on a running node's devices, as iproute2's {@code rdma res show} prints
 * them: without an argument one line per device with how many PDs, CQs, QPs, SRQs, MRs and FMRs it holds; with
 * a kind ({@code pd}, {@code cq}, {@code qp}, {@code srq}, {@code mr}, {@code fmr}) one line per object with the
 * client that owns it ({@code comm}, {@code [application]} for objects no client made). It asks the node's
 * {@link NodeAdmin} over Artery; it does not join the cluster.
 */
@Command(name = "res", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print the objects on a running node's devices and their owners (as rdma res show does).",
        "Example: midlayer res qp --connect 10.0.0.1:25520"})
public final class ResCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Parameters(arity = "0..1", paramLabel = "KIND", description = "One kind of object, listed one per line: "
      + "pd, cq, qp, srq, mr or fmr (none: how many of each, per device).")
  String kind;

  @Mixin
  NodeAddress node;

  /** Runs the command. <b>May sleep</b>: the command line's main thread, waiting for the node's answer. */
  @Override
  public Integer call() throws Exception {
    String k = kind == null ? null : kind.toLowerCase(Locale.ROOT);
    HostPorts.require(spec, k == null || NodeAdmin.KINDS.contains(k),
        "KIND must be one of " + String.join(", ", NodeAdmin.KINDS) + ", was '" + kind + "'");
    String answer = node.ask(spec, k == null ? "res" : "res " + k);
    spec.commandLine().getOut().print(answer);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
