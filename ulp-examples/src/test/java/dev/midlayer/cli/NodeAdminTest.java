package dev.midlayer.cli;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.testkit.ConnectedPair;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Traffic;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What {@code midlayer stat} and {@code res} print of a node ({@link NodeAdmin}'s answers), on a loopback pair
 * that carried traffic: every port's counters, every QP's line with its own counters, the objects per device
 * and one line per QP. {@code RpcAcrossJvmsTest} asks a node in another JVM over Artery.
 */
class NodeAdminTest {
  private final MidlayerTestKit kit = MidlayerTestKit.create();

  @AfterEach
  void shutdown() {
    kit.shutdown();
  }

  @Test
  @DisplayName("stat, stat qp, res and res qp of an RC pair after 50 messages each way's worth of traffic")
  void printsCountersAndObjects() {
    try (ConnectedPair pair = ConnectedPair.rc(kit).build()) {
      Traffic.stream(pair, 50, 64, 8, Duration.ofSeconds(30));
      String a = pair.a().device().device().name();
      String b = pair.b().device().device().name();
      int qpA = pair.a().qp().qpNum();

      List<String> ports = NodeAdmin.stat(kit.midlayer().devices()).lines().toList();
      assertEquals(2, ports.size(), ports.toString());
      Matcher sent = Pattern.compile("link " + a + "/1 sent_pkts (\\d+) .*").matcher(ports.get(0));
      assertTrue(sent.matches() && Long.parseLong(sent.group(1)) >= 50, ports.get(0));

      List<String> qps = await(NodeAdmin.statQp(kit.midlayer().devices())).lines().toList();
      assertEquals(2, qps.size(), qps.toString());
      Matcher qp = Pattern.compile("link " + a + "/1 lqpn " + qpA + " type RC state RTS comm \\[application\\] "
          + "sent_pkts (\\d+) .*").matcher(qps.get(0));
      assertTrue(qp.matches() && Long.parseLong(qp.group(1)) >= 50, qps.get(0));
      assertTrue(qps.get(1).startsWith("link " + b + "/1 lqpn "), qps.get(1));

      List<String> res = await(NodeAdmin.res(kit.midlayer().devices(), null)).lines().toList();
      assertEquals(List.of(pair.a().device().device().index() + ": " + a + ": pd 1 cq 1 qp 1 srq 0 mr 1 fmr 0",
          pair.b().device().device().index() + ": " + b + ": pd 1 cq 1 qp 1 srq 0 mr 1 fmr 0"), res);
      assertEquals("link " + a + "/1 lqpn " + qpA + " type RC state RTS comm [application]",
          await(NodeAdmin.res(kit.midlayer().devices(), "qp")).lines().findFirst().orElseThrow());
    }
  }

  @Test
  @DisplayName("without devices: No IB devices found, as ibv_devinfo and rdma say it")
  void noDevices() {
    assertEquals("No IB devices found\n", NodeAdmin.stat(List.of()));
    assertEquals("No IB devices found\n", await(NodeAdmin.statQp(List.of())));
    assertEquals("No IB devices found\n", await(NodeAdmin.res(List.of(), "qp")));
  }
}
