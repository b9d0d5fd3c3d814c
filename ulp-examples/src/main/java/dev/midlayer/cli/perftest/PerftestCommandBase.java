package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * What every perftest subcommand shares: {@code --json}, output to picocli's writers (stdout gets only
 * results; in-process callers redirect them with {@code CommandLine.setOut}), and the exit code: 0 on
 * success, 1 with a message on stderr when the run fails (a completion with a status other than SUCCESS,
 * a refused post, a stall).
 */
abstract class PerftestCommandBase implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--json", description = "Print one JSON object per result line instead of the table.")
  boolean json;

  @Override
  public final Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try {
      run(out);
      out.flush();
      return 0;
    } catch (PerftestException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("perftest " + spec.name() + ": " + e.getMessage());
      err.flush();
      return 1;
    }
  }

  /** Runs the benchmark and prints its result line(s) to {@code out}. */
  abstract void run(PrintWriter out) throws Exception;

  /** Rejects an option value with picocli's usage error (exit code 2). */
  void require(boolean ok, String message) {
    if (!ok) {
      throw new ParameterException(spec.commandLine(), message);
    }
  }
}
