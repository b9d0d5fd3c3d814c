package dev.midlayer.cli.perftest;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The raw Artery anchors in perftest's server/client style, both in this JVM (two actor systems on 127.0.0.1):
 * the server waits on an ephemeral port, serves one client run and exits, and both print the same result line
 * with the keys of the verbs tests. And the usage errors: one line, exit code 2. No timing is asserted.
 */
class ArteryPerftestTest {
  private static final Pattern WAITING = Pattern.compile("waiting for a client on 127\\.0\\.0\\.1:(\\d+)");

  @Test
  void arteryBwServerAndClientPrintTheSameRun() throws Exception {
    String[] rows = serverAndClient("artery_bw", "-s", "4096", "-n", "2000", "--warmup", "100", "-t", "16");
    for (String row : rows) {
      assertTrue(row.contains("\"test\":\"artery_bw\"") && row.contains("\"msg_rate_mpps\":")
          && row.contains("\"bw_avg_mib_s\":") && row.contains("\"iterations\":2000"), row);
    }
    assertEquals(rows[0], rows[1], "the server prints the client's result");
  }

  @Test
  void arteryLatServerAndClientPrintTheSameRun() throws Exception {
    String[] rows = serverAndClient("artery_lat", "-s", "64", "-n", "200", "--warmup", "20");
    assertTrue(rows[1].contains("\"test\":\"artery_lat\"") && rows[1].contains("\"t_typical_us\":"), rows[1]);
    assertEquals(rows[0], rows[1]);
  }

  @Test
  void usageErrorsAreOneLineWithExitCode2() {
    assertUsage("give exactly one of --server and --connect", "artery_bw");
    assertUsage("give exactly one of --server and --connect", "artery_bw", "--server", "--connect", "h:1");
    assertUsage("--connect must be HOST:PORT, was 'nohost'", "artery_lat", "--connect", "nohost");
    assertUsage("--connect: port must be 1..65535, was '99999'", "artery_lat", "--connect", "127.0.0.1:99999");
    assertUsage("--bind: port must be 0..65535, was 'x'", "artery_bw", "--server", "--bind", "127.0.0.1:x");
  }

  /** Runs the server (port 0) and a client against it; returns {server's line, client's line}. */
  private static String[] serverAndClient(String test, String... args) throws Exception {
    StringWriter serverOut = new StringWriter();
    StringWriter serverErr = new StringWriter();
    CommandLine server = PerftestCommand.commandLine();
    server.setOut(new PrintWriter(serverOut, true));
    server.setErr(new PrintWriter(serverErr, true));
    CompletableFuture<Integer> serverExit = CompletableFuture.supplyAsync(
        () -> server.execute(concat(new String[] {test, "--server", "--bind", "127.0.0.1:0", "--json"}, args)),
        r -> new Thread(r, "perftest-server").start());
    Matcher[] waiting = new Matcher[1];
    await().atMost(Duration.ofSeconds(30)).until(() -> (waiting[0] = WAITING.matcher(serverErr.toString())).find());
    String port = waiting[0].group(1);

    StringWriter clientOut = new StringWriter();
    StringWriter clientErr = new StringWriter();
    CommandLine client = PerftestCommand.commandLine();
    client.setOut(new PrintWriter(clientOut, true));
    client.setErr(new PrintWriter(clientErr, true));
    int clientExit = client.execute(concat(new String[] {test, "--connect", "127.0.0.1:" + port, "--json"}, args));
    assertEquals(0, clientExit, "client stderr: " + clientErr);
    assertEquals(0, serverExit.get(60, TimeUnit.SECONDS), "server stderr: " + serverErr);
    return new String[] {serverOut.toString().strip(), clientOut.toString().strip()};
  }

  private static void assertUsage(String message, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(2, cmd.execute(args), err.toString());
    assertTrue(err.toString().contains(message), err.toString());
    assertTrue(!err.toString().contains("\tat "), "no stack trace: " + err);
  }

  private static String[] concat(String[] a, String[] b) {
    String[] r = new String[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
