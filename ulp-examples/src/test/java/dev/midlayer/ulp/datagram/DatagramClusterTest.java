package dev.midlayer.ulp.datagram;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.ib.Gid;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The datagram template across two cluster nodes (two actor systems on Artery in one JVM): a service registered
 * on each node, two devices on each, every endpoint asking every other. On the cluster driver ports have no LID,
 * so a datagram is addressed by GID (the AH carries a GRH) and every receive comes with the sender's GID. The
 * kit's shutdown fails on leftovers and on monitor violations.
 */
class DatagramClusterTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int QKEY = 0x1111_2222;

  /** By the port's GID: both nodes name their first device cl0. */
  private final Map<Gid, ConcurrentLinkedQueue<Datagram>> inbox = new ConcurrentHashMap<>();
  private final Map<Gid, AtomicLong> answers = new ConcurrentHashMap<>();

  /** A service whose handlers answer a query ('?') from the completion handler and count answers ('!'). */
  private DatagramService service(String node) {
    return new DatagramService("datagram-" + node, d -> true, QKEY, d -> dg -> {
      inbox.computeIfAbsent(gid(d), n -> new ConcurrentLinkedQueue<>()).add(dg);
      if (dg.payload().length > 0 && dg.payload()[0] == '?') {
        byte[] answer = dg.payload().clone();
        answer[0] = '!';
        dg.reply(answer);
      } else if (dg.payload().length > 0 && dg.payload()[0] == '!') {
        answers.computeIfAbsent(gid(d), n -> new AtomicLong()).incrementAndGet();
      }
    });
  }

  private static Gid gid(Device d) {
    return d.cachedPort(1).gids().get(0);
  }

  private long answersOf(DatagramEndpoint ep) {
    AtomicLong a = answers.get(ep.address().gid());
    return a == null ? 0 : a.get();
  }

  @Test
  @DisplayName("four peers on two cluster nodes, each asks every other 20 times: every query answered from a "
      + "completion handler, through one AH per peer made from the receive's GRH")
  void peersOnTwoNodes() throws Exception {
    DriverUnderTest cluster = DriverUnderTest.cluster();
    MidlayerTestKit kit = MidlayerTestKit.create(cluster.config());
    try {
      List<Device> devices = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        devices.add(cluster.addDevice(kit, 1)); // alternately on this node and on the peer
      }
      Midlayer here = cluster.midlayerOf(kit, devices.get(0));
      Midlayer there = cluster.midlayerOf(kit, devices.get(1));
      assertTrue(here != there, "the devices are on two nodes");
      DatagramService hereService = service("here");
      DatagramService thereService = service("there");
      ClientId hereId = await(here.registerClient(hereService));
      ClientId thereId = await(there.registerClient(thereService));
      List<DatagramEndpoint> eps = new ArrayList<>();
      for (Device d : devices) {
        DatagramService s = cluster.midlayerOf(kit, d) == here ? hereService : thereService;
        DatagramEndpoint ep = s.endpoint(d).orElseThrow();
        assertEquals(0, ep.address().lid(), "a RoCE-like port has no LID");
        assertNotNull(ep.address().gid());
        eps.add(ep);
      }
      // One datagram of exactly the path MTU (UD: one packet, never segmented) arrives intact.
      byte[] full = new byte[eps.get(0).maxPayload()];
      for (int i = 0; i < full.length; i++) {
        full[i] = (byte) (i * 31 + 7);
      }
      assertTrue(eps.get(0).send(eps.get(1).address(), full));
      // received() counts before the handler runs: wait for what the handler put in the inbox.
      until(() -> inbox.containsKey(eps.get(1).address().gid()) && !inbox.get(eps.get(1).address().gid()).isEmpty());
      assertEquals(1, eps.get(1).received());
      Datagram first = inbox.get(eps.get(1).address().gid()).peek();
      assertArrayEquals(full, first.payload());
      assertEquals(eps.get(0).address().gid(), first.from().gid(), "the sender's GID came in the GRH");
      assertEquals(eps.get(0).address().qpn(), first.from().qpn());

      for (int round = 0; round < 20; round++) {
        for (DatagramEndpoint from : eps) {
          for (DatagramEndpoint to : eps) {
            if (from != to) {
              assertTrue(from.send(to.address(), ("?" + round).getBytes()), "a send buffer was free");
            }
          }
        }
        int expected = 3 * (round + 1);
        try {
          until(() -> eps.stream().allMatch(e -> answersOf(e) == expected));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
          StringBuilder b = new StringBuilder("round " + round + ", expected " + expected + " answers each:");
          for (DatagramEndpoint ep : eps) {
            b.append(String.format("%n  %s: answers %d, sent %d, received %d, dropped %d, errors %d, AHs %d",
                ep.device().name() + "@" + ep.address(), answersOf(ep), ep.sent(), ep.received(), ep.dropped(),
                ep.errors(), ep.addressHandles()));
          }
          throw new AssertionError(b.toString(), e);
        }
      }
      for (DatagramEndpoint ep : eps) {
        int extra = ep == eps.get(1) ? 1 : 0;
        assertEquals(120 + extra, ep.received(), "60 queries and 60 answers at " + ep.device().name());
        assertEquals(3, ep.addressHandles(), "one AH per peer at " + ep.device().name());
        assertEquals(0, ep.errors());
      }
      await(there.unregisterClient(thereId));
      await(here.unregisterClient(hereId));
      for (int i = devices.size() - 1; i >= 0; i--) {
        cluster.removeDevice(kit, devices.get(i));
      }
    } finally {
      cluster.close(kit);
    }
  }

  private static void until(java.util.concurrent.Callable<Boolean> condition) {
    Awaitility.await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1)).until(condition);
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }
}
