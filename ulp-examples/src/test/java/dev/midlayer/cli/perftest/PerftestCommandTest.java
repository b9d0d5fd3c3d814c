package dev.midlayer.cli.perftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Runs each perftest subcommand in-process with tiny parameters and {@code --json}, and checks that the
 * line carries every key the ratio scripts read, as a positive number. No timing is
 * asserted: a benchmark is not a test.
 */
class PerftestCommandTest {
  private static final List<String> COMMON = List.of("bytes", "iterations", "qps");
  private static final List<String> BW = List.of("bw_peak_mib_s", "bw_avg_mib_s", "msg_rate_mpps");
  private static final List<String> LAT =
      List.of("t_min_us", "t_max_us", "t_typical_us", "t_avg_us", "t_stdev_us", "p99_us", "p999_us");
  private static final List<String> FLOOR = List.of("tell_rate_mps", "tell_rate_unbounded_mps", "actor_rtt_us", "copy_64k_gib_s",
      "copy_1m_gib_s");
  private static final Pattern FIELD = Pattern.compile("\"([a-z0-9_]+)\":(\"[^\"]*\"|[-0-9.eE+]+|null)");

  @Test
  void sendBwPrintsEveryBandwidthKey() {
    Map<String, String> row = run("send_bw", "-s", "64", "-n", "200", "-t", "16");
    assertEquals("\"send_bw\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, BW);
    assertEquals(200, Double.parseDouble(row.get("iterations")));
    assertEquals(1, Double.parseDouble(row.get("qps")));
  }

  @Test
  void sendBwWithManyQpsAndEventsCompletes() {
    // -n not a multiple of -q, window smaller than cq-mod, no inline: the accounting edge cases.
    Map<String, String> row = run("send_bw", "-s", "300", "-n", "203", "-t", "4", "-q", "8", "-Q", "16", "-e");
    assertPositive(row, COMMON);
    assertPositive(row, BW);
    assertEquals(8, Double.parseDouble(row.get("qps")));
  }

  @Test
  void sendLatPrintsEveryLatencyKey() {
    Map<String, String> row = run("send_lat", "-s", "64", "-n", "200", "--warmup", "50");
    assertEquals("\"send_lat\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, LAT);
  }

  @Test
  void ucRunsTheSendAndWriteTests() {
    for (String test : List.of("send_bw", "write_bw", "send_lat", "write_lat")) {
      Map<String, String> row = run(test, "-c", "UC", "-s", "64", "-n", "300", "--warmup", "30");
      assertPositive(row, test.endsWith("_bw") ? BW : LAT);
    }
    StringWriter out = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    assertEquals(0, cmd.execute("send_lat", "-c", "UC", "-n", "10", "--warmup", "0"));
    assertTrue(out.toString().contains(" Connection type : UC "), out.toString());
  }

  @Test
  void postListPostsListsAndCountsEveryWr() {
    // -l 8 with -Q 5 and -n not a multiple of -q: lists cross signaling boundaries and end short at the window.
    Map<String, String> row = run("send_bw", "-s", "64", "-n", "1003", "-q", "3", "-Q", "5", "-t", "16", "-l", "8",
        "--warmup", "100");
    assertPositive(row, BW);
    assertEquals(1003, Double.parseDouble(row.get("iterations")));
    row = run("write_bw", "-s", "4096", "-n", "500", "-t", "32", "-l", "32", "--warmup", "10", "--jit-warmup", "0");
    assertEquals(500, Double.parseDouble(row.get("iterations")));
  }

  @Test
  void durationMeasuresForThatLongInsteadOfACount() {
    // -D: the row counts what completed in the time; the bandwidth tests end what they posted, then stop.
    for (String[] args : List.of(new String[] {"send_bw", "-D", "1", "--warmup", "100", "-q", "3", "-Q", "7"},
        new String[] {"write_bw", "-D", "1", "--warmup", "100", "--jit-warmup", "0"},
        new String[] {"send_lat", "-D", "1", "--warmup", "10", "-e"},
        new String[] {"read_lat", "-D", "1", "--warmup", "10"})) {
      Map<String, String> row = run(args);
      assertPositive(row, COMMON);
      assertPositive(row, args[0].endsWith("_bw") ? BW : LAT);
    }
  }

  @Test
  void sendLatEventDriven() {
    Map<String, String> row = run("send_lat", "-s", "8", "-n", "200", "--warmup", "10", "-e");
    assertPositive(row, LAT);
  }

  @Test
  void writeBwPrintsEveryBandwidthKey() {
    Map<String, String> row = run("write_bw", "-s", "4096", "-n", "100", "-t", "16", "--warmup", "100", "--jit-warmup", "1000");
    assertEquals("\"write_bw\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, BW);
    assertEquals(100, Double.parseDouble(row.get("iterations")));
  }

  @Test
  void readBwPrintsEveryBandwidthKey() {
    Map<String, String> row = run("read_bw", "-s", "4096", "-n", "100", "-t", "16", "-q", "3", "--warmup", "10", "--jit-warmup", "0");
    assertEquals("\"read_bw\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, BW);
    assertEquals(3, Double.parseDouble(row.get("qps")));
  }

  @Test
  void atomicBwPrintsEveryBandwidthKey() {
    Map<String, String> row = run("atomic_bw", "-n", "100", "--warmup", "10", "--jit-warmup", "100", "-e");
    assertEquals("\"atomic_bw\"", row.get("test"));
    assertEquals(8, Double.parseDouble(row.get("bytes")));
    assertPositive(row, COMMON);
    assertPositive(row, BW);
  }

  @Test
  void writeLatPrintsEveryLatencyKey() {
    Map<String, String> row = run("write_lat", "-s", "64", "-n", "100", "--warmup", "300");
    assertEquals("\"write_lat\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, LAT);
  }

  @Test
  void writeLatWithoutInline() {
    Map<String, String> row = run("write_lat", "-s", "1000", "-n", "100", "--warmup", "10", "-I", "0", "-t", "4");
    assertPositive(row, LAT);
  }

  @Test
  void readLatPrintsEveryLatencyKey() {
    Map<String, String> row = run("read_lat", "-s", "64", "-n", "100", "--warmup", "10");
    assertEquals("\"read_lat\"", row.get("test"));
    assertPositive(row, COMMON);
    assertPositive(row, LAT);
  }

  @Test
  void atomicLatPrintsEveryLatencyKey() {
    Map<String, String> row = run("atomic_lat", "-n", "100", "--warmup", "10");
    assertEquals("\"atomic_lat\"", row.get("test"));
    assertEquals(8, Double.parseDouble(row.get("bytes")));
    assertPositive(row, LAT);
  }

  @Test
  void sweepPrintsOneLinePerSize() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    for (String test : List.of("read_lat", "send_lat")) {
      out.getBuffer().setLength(0);
      assertEquals(0, cmd.execute(test, "-a", "-n", "16", "--warmup", "2", "--json"), err.toString());
      String[] lines = out.toString().strip().split("\\R");
      assertEquals(23, lines.length, out.toString());
      assertTrue(lines[0].contains("\"bytes\":2,"), lines[0]);
      assertTrue(lines[22].contains("\"bytes\":8388608,"), lines[22]);
    }
  }

  @Test
  void sendBwSweepsSizesToo() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(0, cmd.execute("send_bw", "-a", "-n", "64", "--warmup", "4", "-t", "16", "-Q", "4", "-r", "32"),
        err.toString());
    // The table: perftest's header block, a rule, the column titles, one row per size 2 B .. 8 MiB, a rule.
    List<String> rows = out.toString().lines().filter(l -> l.matches(" \\d+ +64 +[0-9.]+ +[0-9.]+ +[0-9.]+")).toList();
    assertEquals(23, rows.size(), out.toString());
    assertTrue(rows.get(0).startsWith(" 2 "), rows.get(0));
    assertTrue(rows.get(22).startsWith(" 8388608 "), rows.get(22));
    String[] lines = out.toString().strip().split("\\R");
    assertTrue(lines[lines.length - 1].matches("-+"), "the closing rule: " + lines[lines.length - 1]);
  }

  @Test
  void floorPrintsEveryFloorKey() {
    Map<String, String> row = run("floor", "-n", "200", "--rounds", "200", "--warmup-rounds", "20", "--copy-mib", "8");
    assertEquals("\"floor\"", row.get("test"));
    for (String key : COMMON) {
      assertNotNull(row.get(key), key + " missing in " + row);
      assertTrue(Double.parseDouble(row.get(key)) >= 0, key + " in " + row);
    }
    assertPositive(row, FLOOR);
  }

  @Test
  void badOptionIsAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(new StringWriter()));
    cmd.setErr(new PrintWriter(err));
    assertEquals(2, cmd.execute("send_bw", "-q", "0", "--json"), err.toString());
    assertEquals(1, err.toString().lines().count(), "one line, no usage dump: " + err);
    assertTrue(err.toString().startsWith("perftest send_bw: "), err.toString());
  }

  @Test
  void theTableStartsWithPerftestsHeaderBlock() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(0, cmd.execute("send_bw", "-n", "2000", "--warmup", "0", "-q", "2", "-t", "32"), err.toString());
    String text = out.toString();
    java.util.List<String> lines = text.lines().toList();
    assertEquals(PerftestHeader.RULE, lines.get(0), text);
    assertEquals("Send BW Test", lines.get(1).strip(), text);
    assertTrue(text.contains(" Device         : lo0"), text);
    assertTrue(text.contains(" Number of qps   : 2"), text);
    assertTrue(text.contains(" Connection type : RC"), text);
    assertTrue(text.contains(" TX depth        : 32"), text);
    assertTrue(text.contains(" CQ Moderation   : 16"), text);
    assertTrue(text.contains(" Mtu             : 4096[B]"), text);
    // One local and one remote address per QP, then the results table.
    assertEquals(2, lines.stream().filter(l -> l.matches(" local address: LID 0x[0-9a-f]{4} QPN 0x[0-9a-f]{6} "
        + "PSN 0x[0-9a-f]{6}")).count(), text);
    assertEquals(2, lines.stream().filter(l -> l.startsWith(" remote address: LID ")).count(), text);
    assertTrue(text.contains("BW peak[MiB/sec]"), text);
  }

  @Test
  void reportGbitsAddsTheGbitKeysAndKeepsTheMibOnes() {
    Map<String, String> row = run("write_bw", "-s", "4096", "-n", "2000", "--warmup", "0", "--report_gbits");
    double mib = Double.parseDouble(row.get("bw_avg_mib_s"));
    double gb = Double.parseDouble(row.get("bw_avg_gb_s"));
    assertEquals(mib * 1048576 * 8 / 1e9, gb, gb * 1e-4, row.toString());
  }

  @Test
  void rxDepthBelowOneIsAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(new StringWriter()));
    cmd.setErr(new PrintWriter(err));
    assertEquals(2, cmd.execute("send_bw", "-r", "0", "--json"), err.toString());
    assertEquals("perftest send_bw: --rx-depth must be 1..16384 (max_qp_wr), was 0 (see --help)", err.toString().strip());
  }

  @Test
  void aFailedSetupExitsWithOneAndAMessageOnStderr() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    // Each option within its bound, but the CQ they need exceeds the device's max_cqe: found at setup, after
    // the PD was made; it is destroyed before the failure is reported (nothing left for the shutdown to reclaim).
    try (LeftoverLog log = new LeftoverLog()) {
      assertEquals(1, cmd.execute("send_bw", "-n", "10", "-q", "64", "-t", "16384", "-r", "16384", "--json"),
          err.toString());
      assertEquals(List.of(), log.leftovers());
    }
    assertTrue(err.toString().contains("needs 2097152 entries; the device allows 1048576"), err.toString());
    assertEquals("", out.toString());
  }

  /** Runs {@code perftest args... --json} and returns the one JSON line's fields (values as written). */
  private static Map<String, String> run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = PerftestCommand.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    String[] withJson = new String[args.length + 1];
    System.arraycopy(args, 0, withJson, 0, args.length);
    withJson[args.length] = "--json";
    int code = cmd.execute(withJson);
    assertEquals(0, code, "exit code; stderr: " + err);
    String[] lines = out.toString().strip().split("\\R");
    assertEquals(1, lines.length, "one result line on stdout, got: " + out);
    String line = lines[0];
    assertTrue(line.startsWith("{") && line.endsWith("}"), line);
    Map<String, String> fields = new LinkedHashMap<>();
    Matcher m = FIELD.matcher(line);
    while (m.find()) {
      fields.put(m.group(1), m.group(2));
    }
    return fields;
  }

  private static void assertPositive(Map<String, String> row, List<String> keys) {
    for (String key : keys) {
      String v = row.get(key);
      assertNotNull(v, key + " missing in " + row);
      double d;
      try {
        d = Double.parseDouble(v);
      } catch (NumberFormatException e) {
        throw new AssertionError(key + " is not a number in " + row, e);
      }
      assertTrue(d > 0 && Double.isFinite(d), key + " must be positive in " + row);
    }
  }
}
