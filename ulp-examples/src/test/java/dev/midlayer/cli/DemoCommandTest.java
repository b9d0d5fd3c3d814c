package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.monitor.Check;
import dev.midlayer.testkit.HostileClients;
import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class DemoCommandTest {

  private static String run(DemoCommand command, MidlayerTestKit kit, int[] code) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    command.seconds = 2;
    command.size = 64;
    command.progressEvery = Duration.ofMillis(100);
    code[0] = command.run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  @DisplayName("midlayer demo: traffic, an unplug under load, a new device, a report per ULP with the flushed "
      + "WRs and latency, and the monitor's verdict 'contract violations: 0' as the last line, exit 0")
  void runsCleanAndEndsWithTheVerdict(MidlayerTestKit kit) throws Exception {
    int[] code = new int[1];
    String out = run(new DemoCommand(), kit, code);
    assertEquals(0, code[0], out);
    assertTrue(out.contains("unplug lo1 under load"), out);
    assertTrue(out.contains("pingpong-client  2 session(s)"), out);
    assertTrue(out.matches("(?s).*WRs in flight flushed: [1-9]\\d* by the unplug.*"), "the unplug flushed: " + out);
    assertTrue(out.matches("(?s).*round trip p50 [0-9.]+ us, p99 [0-9.]+ us.*"), out);
    assertTrue(out.contains("pingpong-server  "), out);
    assertTrue(out.contains("ledger: "), out);
    List<String> lines = out.strip().lines().toList();
    assertEquals("contract violations: 0", lines.get(lines.size() - 1), out);
  }

  @Test
  @DisplayName("midlayer demo --nodes 2: the same across two cluster nodes (the cluster driver over Artery), each "
      + "node's monitor reporting, and the total as the last line, 'contract violations: 0'")
  void acrossTwoClusterNodes() throws Exception {
    DemoCommand command = new DemoCommand();
    command.seconds = 3;
    command.size = 64;
    command.progressEvery = Duration.ofMillis(100);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code;
    try (ClusterDemoTopology cluster = new ClusterDemoTopology()) {
      code = command.run(cluster, new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
    }
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.contains("two cluster nodes in this JVM"), out);
    assertTrue(out.contains("unplug clb0 under load"), out);
    assertTrue(out.contains("pingpong-client  2 session(s)"), out);
    assertEquals(2, out.lines().filter(l -> l.startsWith("contract monitor of ")).count(), "one report per node: " + out);
    List<String> lines = out.strip().lines().toList();
    assertEquals("contract violations: 0", lines.get(lines.size() - 1), out);
  }

  @Test
  @DisplayName("midlayer demo exits 1 when a check fails: a client that leaves a PD behind on remove is a "
      + "LEFTOVER violation, counted in the last line")
  void exitsNonZeroOnAViolation(MidlayerTestKit kit) throws Exception {
    kit.expectViolations(Check.LEFTOVER).allowLeftovers();
    kit.registerClient(HostileClients.leaking("leaky"));
    int[] code = new int[1];
    String out = run(new DemoCommand(), kit, code);
    assertEquals(1, code[0], out);
    List<String> lines = out.strip().lines().toList();
    String last = lines.get(lines.size() - 1);
    assertTrue(last.startsWith("contract violations: ") && !last.equals("contract violations: 0"), out);
  }
}
