package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

class HelpTest {
  /** Every command path of the command line: "", "devinfo", "perftest", "perftest send_bw", ... */
  static Stream<String> commands() {
    List<String> out = new ArrayList<>();
    collect(MidlayerCli.commandLine(), "", out);
    return out.stream();
  }

  private static void collect(CommandLine cmd, String path, List<String> out) {
    out.add(path);
    cmd.getSubcommands().forEach((name, sub) -> collect(sub, (path + " " + name).strip(), out));
  }

  @ParameterizedTest(name = "midlayer {0} --help")
  @MethodSource("commands")
  @DisplayName("every command answers --help on stdout, exit 0, with no picocli warning")
  void everyCommandAnswersHelp(String path) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    List<String> args = new ArrayList<>(path.isEmpty() ? List.of() : List.of(path.split(" ")));
    args.add("--help");
    // picocli reports a bad format string (an unescaped %) on System.err, not on the command's writer.
    PrintStream systemErr = System.err;
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    int exit;
    try {
      System.setErr(new PrintStream(warnings, true, StandardCharsets.UTF_8));
      exit = cmd.execute(args.toArray(String[]::new));
    } finally {
      System.setErr(systemErr);
    }
    assertEquals(0, exit, err.toString());
    assertTrue(out.toString().startsWith("Usage: midlayer" + (path.isEmpty() ? "" : " " + path)), out.toString());
    assertFalse(out.toString().contains("%n"), "an unformatted %n: " + out);
    assertEquals("", err.toString());
    assertEquals("", warnings.toString(StandardCharsets.UTF_8), "picocli warned");
  }
}
