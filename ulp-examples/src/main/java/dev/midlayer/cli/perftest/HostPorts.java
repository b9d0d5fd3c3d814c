package dev.midlayer.cli.perftest;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** {@code HOST:PORT} options of the commands that run between JVMs; errors are usage errors (exit code 2). */
public final class HostPorts {
  private HostPorts() {}

  /**
   * {host, port} from {@code value}; port 0 only if {@code anyPort} (a listening address). Never blocks (no name
   * lookup); the command's thread.
   */
  public static String[] parse(CommandSpec spec, String option, String value, boolean anyPort) {
    RemoteOptions.HostPort hp = RemoteOptions.parse(spec, anyPort ? "--bind" : "--connect", value, option);
    return new String[] {hp.host(), String.valueOf(hp.port())};
  }

  /** A usage error with {@code message} unless {@code ok}. Never blocks; the command's thread. */
  public static void require(CommandSpec spec, boolean ok, String message) {
    if (!ok) {
      throw new ParameterException(spec.commandLine(), message);
    }
  }
}
