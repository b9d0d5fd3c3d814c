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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * The verbs perftests across cluster nodes, in perftest's server/client style: a server node on an ephemeral
 * port waits, the client's node joins it, the connection manager connects the QPs (MR address and rkey in the
 * REQ and REP private data), the client runs, and both print the client's result line. Two actor systems in this
 * JVM on 127.0.0.1 (the two-JVM tests in {@code dev.midlayer.cli.cluster} cover separate processes). No timing
 * is asserted.
 */
class ClusterPerftestTest {
  private static final Pattern WAITING = Pattern.compile("waiting for a client on 127\\.0\\.0\\.1:(\\d+)");

  @ParameterizedTest
  @ValueSource(strings = {"send_bw", "send_lat", "write_bw", "write_lat", "read_bw", "read_lat", "atomic_bw",
      "atomic_lat"})
  void everyTestRunsAcrossNodesAndBothPrintTheResult(String test) throws Exception {
    String[] args = test.endsWith("_bw")
        ? new String[] {"-s", test.startsWith("atomic") ? "8" : "4096", "-n", "2000", "--warmup", "200", "-t", "32"}
        : new String[] {"-s", test.startsWith("atomic") ? "8" : "64", "-n", "300", "--warmup", "30"};
    if (test.equals("write_bw") || test.equals("read_bw") || test.equals("atomic_bw")) {
      args = concat(args, new String[] {"--jit-warmup", "0"});
    }
    Run server = startServer(test, args);
    Run client = run(concat(new String[] {test, "--fabric", "cluster", "--connect", "127.0.0.1:" + server.port,
        "--json"}, args));
    assertEquals(0, client.exit, "client stderr: " + client.err);
    assertEquals(0, server.exit(), "server stderr: " + server.err);
    String row = client.out.toString().strip();
    assertTrue(row.contains("\"test\":\"" + test + "\"") && row.contains("\"iterations\":"), row);
    assertTrue(row.contains(test.endsWith("_bw") ? "\"msg_rate_mpps\":" : "\"t_typical_us\":"), row);
    assertEquals(row, server.out.toString().strip(), "the server prints the client's result");
  }

  @Test
  void aServerRefusesAClientWithOtherOptionsAndServesAMatchingOne() throws Exception {
    String[] args = {"-s", "64", "-n", "200", "--warmup", "20"};
    Run server = startServer("send_lat", args);
    Run wrong;
    try (LeftoverLog log = new LeftoverLog()) {
      wrong = run(new String[] {"send_lat", "--fabric", "cluster", "--connect", "127.0.0.1:" + server.port,
          "-s", "128", "-n", "200", "--warmup", "20"});
      // The refused client destroyed what it made before its node left: nothing for the shutdown to reclaim.
      assertEquals(java.util.List.of(), log.leftovers());
    }
    assertEquals(1, wrong.exit, "client stderr: " + wrong.err);
    assertTrue(wrong.err.toString().contains("refused the connection (CONSUMER_REJECT): the options differ: this "
        + "server runs send_lat qps=1 size=64"), wrong.err.toString());
    Run right = run(concat(new String[] {"send_lat", "--fabric", "cluster", "--connect",
        "127.0.0.1:" + server.port}, args));
    assertEquals(0, right.exit, "client stderr: " + right.err);
    assertEquals(0, server.exit(), "server stderr: " + server.err);
    assertTrue(server.err.toString().contains("refused a client"), server.err.toString());
  }

  @Test
  void usageErrorsAreOneLineWithExitCode2() {
    assertUsage("--server and --connect run one end per JVM: they need --fabric cluster", "send_bw", "--server");
    assertUsage("give exactly one of --server and --connect", "write_bw", "--fabric", "cluster");
    assertUsage("--connect must be HOST:PORT, was 'nohost'", "read_lat", "--fabric", "cluster", "--connect",
        "nohost");
    assertUsage("Invalid value for option '--fabric'", "send_lat", "--fabric", "infiniband");
  }

  /** One command run: its exit code and its writers; a server's exit comes later. */
  private static final class Run {
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();
    int exit;
    CompletableFuture<Integer> serverExit;
    String port;

    int exit() throws Exception {
      return serverExit.get(60, TimeUnit.SECONDS);
    }
  }

  private static Run startServer(String test, String[] args) {
    Run server = new Run();
    CommandLine cmd = commandLine(server);
    server.serverExit = CompletableFuture.supplyAsync(() -> cmd.execute(concat(new String[] {test, "--fabric",
        "cluster", "--server", "--bind", "127.0.0.1:0", "--json"}, args)), r -> new Thread(r, "perftest-server")
        .start());
    Matcher[] waiting = new Matcher[1];
    await().atMost(Duration.ofSeconds(30)).until(() -> (waiting[0] = WAITING.matcher(server.err.toString())).find());
    server.port = waiting[0].group(1);
    return server;
  }

  private static Run run(String[] args) {
    Run r = new Run();
    r.exit = commandLine(r).execute(args);
    return r;
  }

  private static CommandLine commandLine(Run r) {
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(r.out, true));
    cmd.setErr(new PrintWriter(r.err, true));
    return cmd;
  }

  private static void assertUsage(String message, String... args) {
    Run r = run(args);
    assertEquals(2, r.exit, r.err.toString());
    assertTrue(r.err.toString().contains(message), r.err.toString());
    assertTrue(!r.err.toString().contains("\tat "), "no stack trace: " + r.err);
  }

  private static String[] concat(String[] a, String[] b) {
    String[] r = new String[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
