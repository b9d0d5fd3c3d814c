package dev.midlayer.ulp.echo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import dev.midlayer.ulp.datagram.DatagramAddress;
import dev.midlayer.ulp.datagram.DatagramEndpoint;
import dev.midlayer.ulp.datagram.DatagramService;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The actor template across two cluster nodes (two actor systems on Artery in one JVM): the echo actor on one
 * node's device, a datagram peer on the other's. The echo answers through an AH made from each receive's GRH (a
 * RoCE-like port has no LID). The kit's shutdown fails on leftovers and on monitor violations.
 */
class UdEchoClusterTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int QKEY = 0x0EC0_0001;

  @Test
  @DisplayName("500 datagrams from a peer on the other node all come back, each once; Stop unregisters the echo")
  void echoesAcrossNodes() throws Exception {
    DriverUnderTest cluster = DriverUnderTest.cluster();
    MidlayerTestKit kit = MidlayerTestKit.create(cluster.config());
    try {
      Device echoDevice = cluster.addDevice(kit, 1); // on the kit's node
      Device peerDevice = cluster.addDevice(kit, 1); // on the peer node
      Midlayer echoSide = cluster.midlayerOf(kit, echoDevice);
      Midlayer peerSide = cluster.midlayerOf(kit, peerDevice);
      assertTrue(echoSide != peerSide, "the devices are on two nodes");
      Set<String> echoes = ConcurrentHashMap.newKeySet();
      DatagramService service = new DatagramService("peer", d -> d.name().equals(peerDevice.name()), QKEY,
          d -> dg -> echoes.add(new String(dg.payload(), StandardCharsets.US_ASCII)));
      ClientId peerId = peerSide.registerClient(service).toCompletableFuture().get(30, TimeUnit.SECONDS);
      DatagramEndpoint peer = service.endpoint(peerDevice).orElseThrow();

      ActorRef<UdEcho.Command> echo = kit.testKit().spawn(UdEcho.create(echoSide, "echo", d -> d == echoDevice,
          QKEY));
      TestProbe<Optional<DatagramAddress>> address = kit.testKit().createTestProbe();
      echo.tell(new UdEcho.GetAddress(echoDevice, address.ref()));
      DatagramAddress to = address.receiveMessage(WAIT).orElseThrow(() -> new AssertionError("no echo on "
          + echoDevice.name()));
      assertEquals(0, to.lid(), "a RoCE-like port has no LID: the echo is reached by GID");

      Set<String> sent = new HashSet<>();
      for (int i = 0; i < 500; i++) {
        String text = "datagram " + i;
        assertTrue(peer.send(to, text.getBytes(StandardCharsets.US_ASCII)), "send " + i);
        sent.add(text);
        if (sent.size() % 16 == 0) {
          Awaitility.await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
              .until(() -> echoes.size() == sent.size());
        }
      }
      Awaitility.await().atMost(WAIT).until(() -> echoes.size() == sent.size());
      assertEquals(sent, echoes);
      TestProbe<UdEcho.Stats> stats = kit.testKit().createTestProbe();
      Awaitility.await().atMost(WAIT).untilAsserted(() -> {
        echo.tell(new UdEcho.GetStats(stats.ref()));
        assertEquals(new UdEcho.Stats(500, 0, 0, 0, 1), stats.receiveMessage(WAIT));
      });

      TestProbe<Done> done = kit.testKit().createTestProbe();
      echo.tell(new UdEcho.Stop(done.ref()));
      done.receiveMessage(WAIT);
      done.expectTerminated(echo, WAIT);
      peerSide.unregisterClient(peerId).toCompletableFuture().get(30, TimeUnit.SECONDS);
      cluster.removeDevice(kit, peerDevice);
      cluster.removeDevice(kit, echoDevice);
    } finally {
      cluster.close(kit);
    }
  }
}
