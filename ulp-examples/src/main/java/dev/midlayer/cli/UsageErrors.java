package dev.midlayer.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * How the command line answers bad input: one line on stderr naming the command and what was wrong, exit code 2,
 * no usage dump and no stack trace ({@code --help} shows the usage).
 */
public final class UsageErrors implements CommandLine.IParameterExceptionHandler {
  /** The exit code of a usage error, as picocli and most Unix tools use it. */
  public static final int EXIT_CODE = 2;

  /**
   * Installs this handler on {@code commandLine} (and so on its subcommands) and returns it. Never blocks; the
   * thread that builds the command line.
   */
  public static CommandLine install(CommandLine commandLine) {
    return commandLine.setParameterExceptionHandler(new UsageErrors())
        .setExecutionExceptionHandler(new RunFailures());
  }

  /**
   * The usage error of a command that needs a subcommand and got none (picocli would run the parent and exit
   * 0): names the subcommands. Never blocks; the command's thread.
   */
  public static CommandLine.ParameterException missingSubcommand(CommandSpec spec) {
    return new CommandLine.ParameterException(spec.commandLine(),
        "a command is required, one of: " + String.join(", ", spec.subcommands().keySet()));
  }

  @Override
  public int handleParseException(CommandLine.ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    PrintWriter err = cmd.getErr();
    String message = String.valueOf(ex.getMessage()).replace('\n', ' ').strip();
    err.println(cmd.getCommandSpec().qualifiedName() + ": " + message + " (see --help)");
    err.flush();
    return EXIT_CODE;
  }
}
