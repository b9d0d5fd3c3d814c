package dev.midlayer.ulp.echo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.ulp.datagram.DatagramAddress;
import dev.midlayer.ulp.datagram.DatagramEndpoint;
import dev.midlayer.ulp.datagram.DatagramService;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The actor template: a UD echo service in one actor, registered as a client through a message adapter, its
 * completions coming as its own messages ({@code Cqe.tell}). A datagram peer on another device sends to it; the
 * kit's shutdown fails on anything left behind and on monitor violations.
 */
class UdEchoTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int QKEY = 0x0EC0_0001;

  private MidlayerTestKit kit;
  private LoopbackDevice echoDriver;
  private Device echoDevice;
  private DatagramEndpoint peer;
  private final Set<String> echoes = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create();
    echoDriver = kit.addDevice("lo%d", 1);
    echoDevice = echoDriver.device();
    Device peerDevice = kit.addDevice("lo%d", 1).device();
    DatagramService service = new DatagramService("peer", d -> d == peerDevice, QKEY,
        d -> dg -> echoes.add(new String(dg.payload(), StandardCharsets.US_ASCII)));
    kit.registerClient(service);
    peer = service.endpoint(peerDevice).orElseThrow();
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  /** A new echo actor (each of its own actor name) registered as client {@code clientName}. */
  private ActorRef<UdEcho.Command> spawnEcho(String clientName) {
    return kit.testKit().spawn(UdEcho.create(kit.midlayer(), clientName, d -> d == echoDevice, QKEY));
  }

  private DatagramAddress addressOf(ActorRef<UdEcho.Command> echo) {
    TestProbe<Optional<DatagramAddress>> probe = kit.testKit().createTestProbe();
    echo.tell(new UdEcho.GetAddress(echoDevice, probe.ref()));
    return probe.receiveMessage(WAIT).orElseThrow(() -> new AssertionError("the echo does not run on lo0"));
  }

  private UdEcho.Stats stats(ActorRef<UdEcho.Command> echo) {
    TestProbe<UdEcho.Stats> probe = kit.testKit().createTestProbe();
    echo.tell(new UdEcho.GetStats(probe.ref()));
    return probe.receiveMessage(WAIT);
  }

  private void stopEcho(ActorRef<UdEcho.Command> echo) {
    TestProbe<Done> done = kit.testKit().createTestProbe();
    echo.tell(new UdEcho.Stop(done.ref()));
    done.receiveMessage(WAIT);
    done.expectTerminated(echo, WAIT);
  }

  @Test
  @DisplayName("1,000 datagrams sent to the echo actor in windows of 16 all come back, each once; its send "
      + "completions came in posting order; Stop unregisters it (the name is free again) and stops it")
  void echoesEveryDatagram() {
    ActorRef<UdEcho.Command> echo = spawnEcho("echo");
    DatagramAddress to = addressOf(echo);
    Set<String> sent = new HashSet<>();
    for (int i = 0; i < 1_000; i++) {
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
    Awaitility.await().atMost(WAIT).untilAsserted(() -> assertEquals(1_000, stats(echo).echoed()));
    assertEquals(new UdEcho.Stats(1_000, 0, 0, 0, 1), stats(echo));
    stopEcho(echo);
    // Unregistered: a client of the same name registers again (on a name still taken it would stop at once).
    ActorRef<UdEcho.Command> again = spawnEcho("echo");
    assertEquals(1, waitForDevices(again, 1).devices());
    stopEcho(again);
  }

  @Test
  @DisplayName("the echo's device unplugged with datagrams in flight: the actor drains its QP, releases every "
      + "object (the kit finds no leftovers) and replies; it runs on, on no device")
  void deviceUnpluggedUnderTraffic() {
    ActorRef<UdEcho.Command> echo = spawnEcho("echo");
    DatagramAddress to = addressOf(echo);
    for (int i = 0; i < 32; i++) {
      peer.send(to, ("in flight " + i).getBytes(StandardCharsets.US_ASCII));
    }
    kit.removeDevice(echoDriver); // returns after the echo replied to DeviceRemoved
    UdEcho.Stats after = stats(echo);
    assertEquals(0, after.devices());
    assertEquals(0, after.errors(), "errors other than flushes");
    assertEquals(0, after.outOfOrder());
    TestProbe<Optional<DatagramAddress>> probe = kit.testKit().createTestProbe();
    echo.tell(new UdEcho.GetAddress(echoDevice, probe.ref()));
    assertEquals(Optional.empty(), probe.receiveMessage(WAIT));
    stopEcho(echo);
  }

  private UdEcho.Stats waitForDevices(ActorRef<UdEcho.Command> echo, int devices) {
    Awaitility.await().atMost(WAIT).until(() -> stats(echo).devices() == devices);
    return stats(echo);
  }
}
