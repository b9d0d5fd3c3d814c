package dev.midlayer.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * How the command line answers bad input: one line on stderr naming the command and what was wrong, exit code 2,
 * no usage dump and no stack trace ({@code --help} shows the usage).
 */
public final class UsageErrors implements CommandLine.IParameterExceptionHandler {
  /** The exit code of a usage error, as picocli and most Unix tools use it. */
  public static final int EXIT_CODE = 2;

  /** Installs this handler on {@code commandLine} (and so on its subcommands) and returns it. */
  public static CommandLine install(CommandLine commandLine) {
    return commandLine.setParameterExceptionHandler(new UsageErrors());
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
