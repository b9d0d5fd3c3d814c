package dev.midlayer.ulp.datagram;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The datagram template on loopback devices, registered as a client: many peers, address handles created in
 * completion handlers and cached, the MTU limit, a peer unplugged mid-traffic, and lost packets. The kit's
 * shutdown fails on leftovers and on monitor violations (BlockHound is installed in these tests).
 */
class DatagramTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int QKEY = 0x1111_2222;

  private MidlayerTestKit kit;
  /** What each device's endpoint received, by device name. */
  private final Map<String, ConcurrentLinkedQueue<Datagram>> inbox = new ConcurrentHashMap<>();
  /** Answers each device's endpoint received. */
  private final Map<String, AtomicLong> answers = new ConcurrentHashMap<>();
  private DatagramService service;

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    // A query ('?') is answered from the handler, through the AH the receive created; an answer ('!') counted.
    service = new DatagramService("datagram", d -> true, QKEY, d -> dg -> {
      inbox.computeIfAbsent(d.name(), n -> new ConcurrentLinkedQueue<>()).add(dg);
      if (dg.payload().length > 0 && dg.payload()[0] == '?') {
        byte[] answer = dg.payload().clone();
        answer[0] = '!';
        dg.reply(answer);
      } else if (dg.payload().length > 0 && dg.payload()[0] == '!') {
        answers.computeIfAbsent(d.name(), n -> new AtomicLong()).incrementAndGet();
      }
    });
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  private List<DatagramEndpoint> endpoints(int n) {
    List<DatagramEndpoint> eps = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      kit.addDevice("lo%d", 1);
    }
    kit.registerClient(service);
    for (Device d : kit.midlayer().devices()) {
      eps.add(service.endpoint(d).orElseThrow());
    }
    return eps;
  }

  /** Awaits {@code condition}, checking every millisecond (the loops below wait once per message). */
  private static void until(java.util.concurrent.Callable<Boolean> condition) {
    Awaitility.await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1)).until(condition);
  }

  private long answersOf(DatagramEndpoint ep) {
    AtomicLong a = answers.get(ep.device().name());
    return a == null ? 0 : a.get();
  }

  @Test
  @DisplayName("six peers, each asks every other 20 times: every query answered from a completion handler, and "
      + "each endpoint holds one AH per peer (5), not one per message (200)")
  void manyPeersOneAddressHandleEach() {
    List<DatagramEndpoint> eps = endpoints(6);
    for (int round = 0; round < 20; round++) {
      for (DatagramEndpoint from : eps) {
        for (DatagramEndpoint to : eps) {
          if (from != to) {
            assertTrue(from.send(to.address(), ("?" + round).getBytes()), "a send buffer was free");
          }
        }
      }
      int expected = 5 * (round + 1);
      until(() -> eps.stream().allMatch(e -> answersOf(e) == expected));
    }
    for (DatagramEndpoint ep : eps) {
      assertEquals(200, ep.received(), "100 queries and 100 answers at " + ep.device().name());
      assertEquals(5, ep.addressHandles(), "one AH per peer at " + ep.device().name());
      assertEquals(5, ep.addressHandlesCreated(), "created once each at " + ep.device().name());
      assertEquals(0, ep.errors());
    }
  }

  @Test
  @DisplayName("a datagram over the path MTU is refused with a typed error naming both sizes, nothing is sent, "
      + "and one of exactly the MTU goes through intact")
  void mtuIsEnforced() {
    List<DatagramEndpoint> eps = endpoints(2);
    DatagramEndpoint a = eps.get(0);
    DatagramEndpoint b = eps.get(1);
    DatagramTooLargeException x = assertThrows(DatagramTooLargeException.class,
        () -> a.send(b.address(), new byte[a.maxPayload() + 1]));
    assertEquals(a.maxPayload() + 1, x.size());
    assertEquals(a.maxPayload(), x.maxPayload());
    assertTrue(x.getMessage().contains((a.maxPayload() + 1) + " bytes") && x.getMessage().contains("at most "
        + a.maxPayload()), x.getMessage());
    assertEquals(0, a.dropped());

    byte[] full = new byte[a.maxPayload()];
    for (int i = 0; i < full.length; i++) {
      full[i] = (byte) (i * 31 + 7);
    }
    assertTrue(a.send(b.address(), full));
    // received() counts before the handler runs: wait for what the handler put in the inbox.
    until(() -> inbox.containsKey(b.device().name()) && !inbox.get(b.device().name()).isEmpty());
    assertEquals(1, b.received());
    Datagram got = inbox.get(b.device().name()).peek();
    assertArrayEquals(full, got.payload());
    assertEquals(a.address().qpn(), got.from().qpn(), "the sender's QPN came with the receive");
    assertEquals(a.address().lid(), got.from().lid(), "and its LID");
  }

  @Test
  @DisplayName("a peer unplugged mid-traffic: its endpoint is drained and destroyed in remove, sends to it are "
      + "lost quietly (UD), and the others go on answering")
  void peerUnpluggedMidTraffic() {
    List<DatagramEndpoint> eps = endpoints(3);
    DatagramEndpoint a = eps.get(0);
    DatagramEndpoint b = eps.get(1);
    DatagramEndpoint c = eps.get(2);
    LoopbackDevice gone = kit.fabric().devices().stream().filter(d -> d.device() == c.device()).findFirst()
        .orElseThrow();
    for (int i = 0; i < 200; i++) {
      if (i == 100) {
        kit.removeDevice(gone);
        assertTrue(service.endpoint(c.device()).isEmpty(), "the service let go of the endpoint in remove");
      }
      int before = (int) answersOf(a);
      a.send(b.address(), "?b".getBytes());
      a.send(c.address(), "?c".getBytes()); // after the unplug: to nobody
      until(() -> answersOf(a) > before);
    }
    assertEquals(0, a.errors(), "a UD send to a vanished peer completes: nobody acknowledges datagrams");
    assertFalse(c.send(a.address(), "?".getBytes()), "a closed endpoint drops what it is given");
  }

  @Test
  @DisplayName("a fault: half of the packets from A to B dropped; every datagram B did not get is one the fault "
      + "plan dropped, and nothing hangs")
  void lostPacketsAreAccountedFor() {
    List<DatagramEndpoint> eps = endpoints(2);
    DatagramEndpoint a = eps.get(0);
    DatagramEndpoint b = eps.get(1);
    Direction aToB = new Direction(a.address().gid(), b.address().gid());
    FaultPlan plan = FaultPlan.builder(5).drop(FaultPlan.Match.any().direction(aToB), 0.5).build();
    kit.fabric().faults(plan);
    for (int i = 0; i < 400; i++) {
      long sentBefore = a.sent();
      assertTrue(a.send(b.address(), "lossy".getBytes()));
      until(() -> a.sent() > sentBefore);
    }
    long dropped = plan.counts(aToB).dropped();
    assertTrue(dropped > 100 && dropped < 300, "about half dropped: " + dropped);
    until(() -> b.received() == 400 - dropped);
    kit.fabric().clearFaults();
  }
}
