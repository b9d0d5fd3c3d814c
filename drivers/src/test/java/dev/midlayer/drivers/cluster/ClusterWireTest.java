package dev.midlayer.drivers.cluster;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.engine.Aeth;
import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Two nodes and a stub QP on each: what the wire does to packets between them. */
class ClusterWireTest {
  private ClusterNodes nodes;

  @AfterEach
  void stop() {
    if (nodes != null) {
      nodes.close();
    }
  }

  private WireSide[] pair(String config, QpType type) throws Exception {
    nodes = new ClusterNodes("wire", config);
    List<ActorSystem<?>> s = nodes.cluster(2);
    WireSide a = new WireSide(s.get(0), type, 1 << 20);
    WireSide b = new WireSide(s.get(1), type, 1 << 20);
    await().atMost(ClusterNodes.DEADLINE).until(() -> a.fabric.route(b.device.gid(1)) != null
        && b.fabric.route(a.device.gid(1)) != null);
    return new WireSide[] {a, b};
  }

  private static void assertSameHeaders(Packet sent, Packet got) {
    assertEquals(sent.opcode(), got.opcode());
    assertEquals(sent.srcQpn(), got.srcQpn());
    assertEquals(sent.destQpn(), got.destQpn());
    assertEquals(sent.psn(), got.psn());
    assertEquals(sent.ackRequest(), got.ackRequest());
    assertEquals(sent.solicited(), got.solicited());
    assertEquals(sent.epoch(), got.epoch());
    assertEquals(sent.aeth(), got.aeth());
    assertEquals(sent.remoteAddr(), got.remoteAddr());
    assertEquals(sent.rkey(), got.rkey());
    assertEquals(sent.dmaLength(), got.dmaLength());
    assertEquals(sent.immOrKey(), got.immOrKey());
    assertEquals(sent.compareAdd(), got.compareAdd());
    assertEquals(sent.swap(), got.swap());
    assertEquals(sent.atomicOriginal(), got.atomicOriginal());
    assertEquals(sent.qkey(), got.qkey());
    assertEquals(sent.slid(), got.slid());
    assertEquals(sent.grh(), got.grh());
  }

  private static byte[] bytes(Packet p) {
    return ((Payload.Bytes) p.payload()).data();
  }

  @Test
  @DisplayName("packets of every opcode cross with their headers and payloads; the answer goes back through from")
  void roundTripEveryOpcode() throws Exception {
    WireSide[] ab = pair("", QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    Endpoint toB = a.link.datagram(a.pathTo(b), WireSide.QPN);
    assertNotNull(toB);
    assertTrue(toB.up());
    assertEquals(a.device.gid(1), toB.direction().source());
    assertEquals(b.device.gid(1), toB.direction().destination());
    List<Packet> sent = new ArrayList<>();
    List<byte[]> payloads = new ArrayList<>();
    int seed = 1;
    for (Opcode op : Opcode.values()) {
      // Three payload kinds per opcode: registered memory (a WR's SGE), bytes, inline data; and none.
      sent.add(a.packet(op, WireSide.QPN, seed, a.wqe(seed * 512, 300 + seed, seed)));
      payloads.add(WireSide.pattern(300 + seed, seed));
      seed++;
      byte[] raw = WireSide.pattern(100 + seed, seed);
      sent.add(a.packet(op, WireSide.QPN, seed, new Payload.Bytes(raw)));
      payloads.add(raw);
      seed++;
      byte[] inline = WireSide.pattern(40, seed);
      sent.add(a.packet(op, WireSide.QPN, seed, new Payload.Wqe(
          StubQp.Wr.inline(dev.midlayer.ib.WrOpcode.SEND, inline), a.qp)));
      payloads.add(inline);
      seed++;
      sent.add(a.packet(op, WireSide.QPN, seed, null));
      payloads.add(null);
      seed++;
    }
    for (Packet p : sent) {
      a.link.send(toB, p, 0);
    }
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == sent.size());
    List<WireSide.Received> got = new ArrayList<>(b.received);
    for (int i = 0; i < sent.size(); i++) {
      Packet g = got.get(i).packet();
      assertSameHeaders(sent.get(i), g);
      if (payloads.get(i) == null) {
        assertNull(g.payload());
      } else {
        assertArrayEquals(payloads.get(i), bytes(g), "payload of packet " + i);
      }
      assertFalse(PacketSink.requesterKeyInvalid(g));
    }
    // The answer: through B's own link, to the endpoint the request came from.
    Endpoint from = got.get(0).from();
    assertEquals(b.device.gid(1), from.direction().source());
    assertEquals(a.device.gid(1), from.direction().destination());
    assertTrue(from.up());
    Packet ack = Packet.acknowledge(WireSide.QPN, WireSide.QPN, 5, 1001, Aeth.ack());
    b.link.send(from, ack, 0);
    b.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> a.received.size() == 1);
    WireSide.Received answer = a.received.peek();
    assertSameHeaders(ack, answer.packet());
    assertEquals(b.device.gid(1), answer.from().direction().destination());
  }

  @Test
  @DisplayName("a 64 KiB message crosses in MTU segments (4096 and 1024) and arrives whole, once")
  void segmentation() throws Exception {
    WireSide[] ab = pair("", QpType.RC);
    WireSide a = ab[0];
    WireSide b = ab[1];
    int len = 64 * 1024;
    for (Mtu mtu : new Mtu[] {Mtu.MTU_4096, Mtu.MTU_1024}) {
      a.qp.connect(a.pathTo(b), WireSide.QPN, mtu);
      a.link.pathChanged();
      ClusterEndpoint to = (ClusterEndpoint) a.link.connected();
      assertEquals(mtu.bytes(), to.mtu());
      Peer peer = to.peer();
      long unitsBefore = peer.unitsSent;
      b.received.clear();
      Packet p = a.packet(Opcode.RDMA_WRITE_ONLY, WireSide.QPN, mtu.bytes(), a.wqe(4096, len, mtu.value()));
      a.link.send(to, p, 0);
      a.link.flush();
      await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 1);
      assertArrayEquals(WireSide.pattern(len, mtu.value()), bytes(b.received.peek().packet()));
      assertSameHeaders(p, b.received.peek().packet());
      await().atMost(ClusterNodes.DEADLINE).until(() -> peer.unitsSent - unitsBefore == len / mtu.bytes());
    }
  }

  @Test
  @DisplayName("a lost segment loses its whole message, and only it")
  void lostSegmentLosesTheMessage() throws Exception {
    WireSide[] ab = pair("midlayer.cluster.frame-size = 16 KiB", QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    ClusterEndpoint to = (ClusterEndpoint) a.link.datagram(a.pathTo(b), WireSide.QPN);
    Packet big = a.packet(Opcode.SEND_ONLY, WireSide.QPN, 1, new Payload.Bytes(WireSide.pattern(40_000, 1)));
    Packet small = a.packet(Opcode.SEND_ONLY, WireSide.QPN, 2, new Payload.Bytes(WireSide.pattern(10, 2)));
    // Frames as the sender would build them, the middle one "dropped by Artery": a seq gap at the receiver.
    Peer self = b.fabric.peer(a.fabric.selfUid());
    Outgoing bigOut = new Outgoing(to, big);
    Outgoing smallOut = new Outgoing(to, small);
    long base = 1_000_000; // far from the seqs the real sender uses
    List<Wire.Unit> first = List.of(new Wire.Unit(bigOut, Wire.FIRST, 0, 4096));
    List<Wire.Unit> last = List.of(new Wire.Unit(bigOut, Wire.LAST, 8192, 40_000 - 8192),
        new Wire.Unit(smallOut, Wire.WHOLE, 0, 10));
    assertNotNull(self);
    ClusterSerializer ser = new ClusterSerializer(
        (org.apache.pekko.actor.ExtendedActorSystem) org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(a.system));
    for (var units : List.of(first, last)) {
      Wire.Frame f = new Wire.Frame(a.fabric.selfUid(), units == first ? base : base + 2,
          units.toArray(new Wire.Unit[0]), units.size(), 128 * 1024);
      Object decoded = ser.fromBinary(ser.toBinary(f), "F");
      b.fabric.inbound().tell((Wire.InboundFrame) decoded);
    }
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 1);
    assertArrayEquals(WireSide.pattern(10, 2), bytes(b.received.peek().packet()), "only the small one arrived");
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.fabric.stats.messagesLost == 1);
  }

  @Test
  @DisplayName("a burst of one turn coalesces into few frames; a lone packet leaves at once, in its own frame")
  void coalescing() throws Exception {
    WireSide[] ab = pair("midlayer.cluster.credit-probe-interval = 1h", QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    ClusterEndpoint to = (ClusterEndpoint) a.link.datagram(a.pathTo(b), WireSide.QPN);
    Peer peer = to.peer();
    long frames0 = peer.framesSent;
    for (int i = 0; i < 500; i++) {
      a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, i, new Payload.Bytes(new byte[64])), 0);
    }
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 500);
    long burstFrames = peer.framesSent - frames0;
    // 500 packets of ~200 bytes fit in one 128 KiB frame; the sender may start early on a busy queue: a few.
    assertTrue(burstFrames >= 1 && burstFrames <= 3, "500 packets in " + burstFrames + " frames");
    // A lone packet: no timer holds it (the probe interval is an hour); it arrives in one more frame.
    long frames1 = peer.framesSent;
    a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, 9999, null), 0);
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 501);
    assertEquals(frames1 + 1, peer.framesSent);
  }

  @Test
  @DisplayName("credits: a flood stays within the window, Artery's small queue never overflows, all in order")
  void creditsBoundTheFlood() throws Exception {
    WireSide[] ab = pair("""
        midlayer.cluster { frame-size = 16 KiB, credits = 4, grant-every = 2, credit-probe-interval = 1h }
        pekko.remote.artery.advanced.outbound-message-queue-size = 24
        pekko.remote.artery.advanced.outbound-large-message-queue-size = 24
        """, QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    ClusterEndpoint to = (ClusterEndpoint) a.link.datagram(a.pathTo(b), WireSide.QPN);
    Peer peer = to.peer();
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, i, new Payload.Bytes(new byte[256])), 0);
      if (i % 100 == 99) {
        a.link.flush();
      }
    }
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == n);
    int i = 0;
    for (WireSide.Received r : b.received) {
      assertEquals(i++ & 0xffffff, r.packet().psn(), "in order");
    }
    assertTrue(peer.maxInFlight <= 4, "frames in flight " + peer.maxInFlight);
    assertTrue(peer.framesSent > 4 * 10, "the window was reused many times: " + peer.framesSent + " frames");
    assertEquals(0, peer.syncFrames, "no credit was lost, no probe needed");
  }

  @Test
  @DisplayName("two QPs flood one peer at once: one of them runs the sender at a time, nothing lost or reordered")
  void concurrentRingersShareTheSender() throws Exception {
    WireSide[] ab = pair("""
        midlayer.cluster { frame-size = 16 KiB, credits = 4, grant-every = 2, credit-probe-interval = 1h }
        """, QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    ClusterLink[] links = {a.link, a.device.link(new StubQp(WireSide.QPN + 1, QpType.UD, a.pd.handle(),
        a.device.driverDevice()))};
    int n = 10_000;
    int second = 0x40_0000;
    Thread[] threads = new Thread[2];
    for (int t = 0; t < 2; t++) {
      ClusterLink link = links[t];
      int base = t == 0 ? 0 : second;
      threads[t] = new Thread(() -> {
        Endpoint to = link.datagram(a.pathTo(b), WireSide.QPN);
        for (int i = 0; i < n; i++) {
          link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, base + i, new Payload.Bytes(new byte[200])), 0);
          if (i % 50 == 49) {
            link.flush();
          }
        }
        link.flush();
      }, "ringer-" + t);
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join();
    }
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 2 * n);
    int[] next = {0, second};
    for (WireSide.Received r : b.received) {
      int psn = r.packet().psn();
      int k = psn >= second ? 1 : 0;
      assertEquals(next[k]++, psn, "each QP's packets in order, none twice");
    }
    assertEquals(n, next[0]);
    assertEquals(second + n, next[1]);
    Peer peer = ((ClusterEndpoint) a.link.datagram(a.pathTo(b), WireSide.QPN)).peer();
    assertTrue(peer.maxInFlight <= 4, "frames in flight " + peer.maxInFlight);
    assertEquals(0, peer.syncFrames, "no grant was lost while the sender blocked: no probe needed");
  }

  @Test
  @DisplayName("a payload whose key stopped resolving is flagged: it arrives as a requester protection fault")
  void invalidKeyIsFlagged() throws Exception {
    WireSide[] ab = pair("", QpType.UD);
    WireSide a = ab[0];
    WireSide b = ab[1];
    Endpoint to = a.link.datagram(a.pathTo(b), WireSide.QPN);
    Payload.Wqe w = a.wqe(0, 1000, 3);
    ClusterNodes.get(a.mr.deregister());
    Packet p = a.packet(Opcode.SEND_ONLY, WireSide.QPN, 8, w);
    a.link.send(to, p, 0);
    Packet ok = a.packet(Opcode.SEND_ONLY, WireSide.QPN, 9, new Payload.Bytes(new byte[3]));
    a.link.send(to, ok, 0);
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 2);
    Packet bad = b.received.poll().packet();
    assertTrue(PacketSink.requesterKeyInvalid(bad));
    assertEquals(Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION), bad.aeth());
    assertNull(bad.payload());
    assertEquals(p.psn(), bad.psn());
    assertFalse(PacketSink.requesterKeyInvalid(b.received.poll().packet()));
  }

  @Test
  @DisplayName("a QP reaches a QP of its own node through the same link (the self peer)")
  void sameNode() throws Exception {
    nodes = new ClusterNodes("wire", "");
    ActorSystem<?> s = nodes.cluster(1).get(0);
    WireSide a = new WireSide(s, QpType.UD, 1 << 16);
    WireSide b = new WireSide(s, QpType.UD, 1 << 16);
    await().atMost(ClusterNodes.DEADLINE).until(() -> a.fabric.route(b.device.gid(1)) != null);
    Endpoint to = a.link.datagram(a.pathTo(b), WireSide.QPN);
    a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, 1, a.wqe(0, 9000, 5)), 0);
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 1);
    assertArrayEquals(WireSide.pattern(9000, 5), bytes(b.received.peek().packet()));
  }

  @Test
  @DisplayName("a sink that throws: its packets are lost, logged at ERROR with the MDC of the receiving QP (device, "
      + "port, QP), and the next packets arrive")
  void throwingSinkIsLoggedWithTheQpsMdc() throws Exception {
    nodes = new ClusterNodes("wire", "");
    ActorSystem<?> s = nodes.cluster(1).get(0);
    WireSide a = new WireSide(s, QpType.UD, 1 << 16);
    WireSide b = new WireSide(s, QpType.UD, 1 << 16);
    await().atMost(ClusterNodes.DEADLINE).until(() -> a.fabric.route(b.device.gid(1)) != null);
    PacketSink recording = b.device.sink(WireSide.QPN);
    b.device.bind(WireSide.QPN, (from, packets, count) -> {
      throw new IllegalStateException("a broken sink (thrown on purpose by the test)");
    });
    Endpoint to = a.link.datagram(a.pathTo(b), WireSide.QPN);
    LoggingTestKit.error("its packets are lost")
        .withMdc(Map.of("midlayer.device", b.device.name(), "midlayer.port", "1", "midlayer.qp",
            String.valueOf(WireSide.QPN)))
        .expect(s, () -> {
          a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, 1, null), 0);
          a.link.flush();
          return null;
        });
    b.device.bind(WireSide.QPN, recording);
    a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, 2, null), 0);
    a.link.flush();
    await().atMost(ClusterNodes.DEADLINE).until(() -> b.received.size() == 1);
    assertEquals(2, b.received.peek().packet().psn(), "the packet after the lost one");
  }
}
