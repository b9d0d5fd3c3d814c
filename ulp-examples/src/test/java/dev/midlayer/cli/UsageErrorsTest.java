package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

class UsageErrorsTest {
  @ParameterizedTest(name = "{0}")
  @DisplayName("bad input on the command line is one line on stderr naming the command and the problem, exit code 2")
  @CsvSource(delimiter = '|', value = {
      "devinfo --bogus | midlayer devinfo: | --bogus",
      "nosuchcommand | midlayer: | nosuchcommand",
      "perftest send_bw -s -3 | midlayer perftest send_bw: | --size",
      "perftest send_bw -n lots | midlayer perftest send_bw: | lots"})
  void usageErrorIsOneLine(String args, String prefix, String names) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(UsageErrors.EXIT_CODE, cmd.execute(args.split(" ")), err.toString());
    String text = err.toString();
    assertEquals(1, text.lines().count(), "one line, no usage dump: " + text);
    assertTrue(text.startsWith(prefix) && text.contains(names), text);
    assertTrue(!text.contains("\tat ") && !text.contains("Exception"), "no stack trace: " + text);
    assertEquals("", out.toString());
  }
}
