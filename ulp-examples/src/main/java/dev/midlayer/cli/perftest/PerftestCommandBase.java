package dev.midlayer.cli.perftest;

import dev.midlayer.cli.Bounds;
import dev.midlayer.drivers.engine.SoftLimits;
import dev.midlayer.ib.DeviceAttributes;
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

  /** The run's stop, {@code -D} and progress control, once {@link #control} made it. */
  private RunControl control;

  /**
   * Runs the test. A run stopped by Ctrl-C or SIGTERM prints what it measured, then one line on stderr saying
   * so, and exits 128 + the signal's number, as a shell reports a process a signal ended. May sleep; the
   * command line's thread.
   */
  @Override
  public final Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      run(out);
      out.flush();
    } catch (PerftestException e) {
      err.println("perftest " + spec.name() + ": " + e.getMessage());
      err.flush();
      return 1;
    } finally {
      if (control != null) {
        control.close();
      }
    }
    String signal = control == null ? null : control.stoppedBy();
    if (signal == null) {
      return 0;
    }
    err.println("perftest " + spec.name() + ": stopped by SIG" + signal + (control.measuredAnything()
        ? "; the rows above are what was measured (the last one up to the stop)"
        : " in the warm-up: nothing was measured"));
    err.flush();
    return 128 + (signal.equals("INT") ? 2 : 15);
  }

  /**
   * The run's control, made on first use: {@code durationSeconds} ({@code -D}, 0: by count); Ctrl-C and SIGTERM
   * stop the measurement from here on when {@code handleSignals} (the end that measures), progress on a
   * terminal.
   */
  RunControl control(long durationSeconds, boolean handleSignals) {
    if (control == null) {
      control = RunControl.start(spec.name(), durationSeconds, spec.commandLine().getErr(), json, handleSignals);
    }
    return control;
  }

  /** Runs the benchmark and prints its result line(s) to {@code out}. */
  abstract void run(PrintWriter out) throws Exception;

  /** The device limits the options are checked against (the software drivers', {@link SoftLimits}). */
  static final DeviceAttributes LIMITS = SoftLimits.limits();
  /** The ports' max_msg_sz. */
  static final long LIMITS_MAX_MSG = SoftLimits.MAX_MSG_SIZE;

  /** True if the user gave {@code option} on the command line (not its default). */
  boolean given(String option) {
    return spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option);
  }

  /** Rejects {@code value} of {@code option} outside {@code min..max} (usage error, exit code 2). */
  void bound(String option, long value, long min, long max) {
    Bounds.check(spec, option, value, min, max);
  }

  /** As {@link #bound(String, long, long, long)}, where {@code max} is the device limit named {@code limit}. */
  void bound(String option, long value, long min, long max, String limit) {
    Bounds.check(spec, option, value, min, max, limit);
  }

  /**
   * Atomics move 8 bytes: an explicit {@code -s} other than 8 is a usage error (not silently 8 B); without
   * {@code -s} they run 8 B.
   */
  void checkAtomicSize(boolean atomic, int size) {
    require(!atomic || !given("--size") || size == 8,
        "--size must be 8 for " + spec.name() + " (CMP_AND_SWP and FETCH_AND_ADD move 8 bytes), was " + size);
  }

  /**
   * Prints perftest's header block ({@link PerftestHeader}) for this end's connected QPs, unless {@code --json}.
   * {@code cqMod} 0: no CQ moderation line.
   */
  void header(PerftestSetup setup, String test, int txDepth, int cqMod, int inlineSize) {
    if (!json) {
      PerftestHeader.print(spec.commandLine().getOut(), test, setup.localQps(), txDepth, cqMod, inlineSize);
    }
  }

  /** Rejects an option value with picocli's usage error (exit code 2). */
  void require(boolean ok, String message) {
    if (!ok) {
      throw new ParameterException(spec.commandLine(), message);
    }
  }
}
