package dev.midlayer.cli;

import java.io.PrintWriter;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * A command that fails while it runs (not a usage error): one line on stderr naming the command and what went
 * wrong, exit code {@link #EXIT_CODE}; the stack trace goes to the log at DEBUG, never to the terminal.
 */
final class RunFailures implements CommandLine.IExecutionExceptionHandler {
  /** The exit code of a command that failed while running. */
  static final int EXIT_CODE = 1;
  private static final Logger log = LoggerFactory.getLogger(RunFailures.class);

  @Override
  public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
    Throwable cause = ex;
    while ((cause instanceof ExecutionException || cause instanceof CompletionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String what = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    PrintWriter err = cmd.getErr();
    err.println(cmd.getCommandSpec().qualifiedName() + ": failed: " + what.replace('\n', ' ').strip());
    err.flush();
    log.debug("{} failed", cmd.getCommandSpec().qualifiedName(), ex);
    return EXIT_CODE;
  }
}
