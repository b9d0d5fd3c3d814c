package dev.midlayer.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Range checks of numeric options, run before a command allocates anything: a value out of range is a usage
 * error ({@link UsageErrors}: one line naming the option, the allowed range and, where the bound is a device
 * limit, the limit's name as {@code ibv_devinfo -v} prints it; exit code 2).
 *
 * <p>Threading: the command's thread, at the start of its {@code call}; never sleeps.
 */
public final class Bounds {
  private Bounds() {}

  /** Refuses {@code value} of {@code option} unless {@code min <= value <= max}. */
  public static void check(CommandSpec spec, String option, long value, long min, long max) {
    check(spec, option, value, min, max, null);
  }

  /**
   * Refuses {@code value} of {@code option} unless {@code min <= value <= max}; {@code limit} names where
   * {@code max} comes from (a device attribute such as {@code max_qp_wr}), or is null.
   */
  public static void check(CommandSpec spec, String option, long value, long min, long max, String limit) {
    if (value >= min && value <= max) {
      return;
    }
    String range = max == Long.MAX_VALUE ? ">= " + min : min + ".." + max;
    String source = limit == null ? "" : " (" + limit + ")";
    throw new ParameterException(spec.commandLine(),
        option + " must be " + range + source + ", was " + value);
  }
}
