package dev.midlayer.cli.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cli.ClusterNode;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The cluster driver between two JVM processes: this test's JVM is a cluster node (the seed), and each peer is a
 * second JVM started from the built classpath ({@link TwoJvmPeer}) that echoes RC messages. Covers traffic both
 * ways, a {@code kill -9} of the peer mid-traffic (every outstanding WR on the survivor completes, RETRY_EXC_ERR
 * then WR_FLUSH_ERR, within the retry budget; its port stays ACTIVE; a freshly started node can be connected),
 * and a graceful leave (SIGTERM: CoordinatedShutdown leaves the cluster; the survivor's QP towards it flushes;
 * connected through the CM, the survivor gets DISCONNECTED and its QP flushes).
 * Waits are bounded polls and Awaitility; nothing sleeps.
 */
class TwoJvmClusterTest {
  /** ACK timeout code 14 (67 ms) and 7 retries: a dead peer fails a WR after about half a second. */
  static final QpConnect.Params PARAMS = QpConnect.Params.defaults().withRetries(14, 7, 7, 1);
  private static final Duration DEADLINE = Duration.ofSeconds(60);
  private static final int DEPTH = TwoJvmPeer.DEPTH;
  private static final int SIZE = 64;

  private ActorSystem<Void> system;
  private Device dev;
  private ProtectionDomain pd;
  private final List<Process> peers = new ArrayList<>();

  /** One connection to a peer: our QP, CQ and buffer. */
  private final class Conn {
    final Process process;
    final QueuePair qp;
    final CompletionQueue cq;
    final MemoryRegion mr;
    int recvsPosted;

    Conn(Process process, QueuePair qp, CompletionQueue cq, MemoryRegion mr) {
      this.process = process;
      this.qp = qp;
      this.cq = cq;
      this.mr = mr;
    }
  }

  @BeforeEach
  void startNode() throws Exception {
    system = ClusterNode.start("127.0.0.1", 0);
    ClusterNode.join(system, List.of()).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    dev = ClusterFabric.get(system).addDevice("cl%d", 1).toCompletableFuture().get(30, TimeUnit.SECONDS).device();
    pd = dev.allocPd().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    for (Process p : peers) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void trafficBothWaysThenKill9ThenAFreshNode() throws Exception {
    Conn c = connect(spawn());
    pingPong(c, 200);

    // kill -9 with a window of sends in flight: each completes, SUCCESS up to the first failure, then
    // RETRY_EXC_ERR once and WR_FLUSH_ERR for the rest, and every receive is flushed.
    for (int i = 0; i < 64; i++) {
      c.qp.postSend(SendWr.send(1000 + i, SendFlags.SIGNALED, Sge.of(c.mr, (long) DEPTH * SIZE, SIZE)));
    }
    c.process.destroyForcibly();
    List<WorkCompletion> sends = new ArrayList<>();
    int recvs = 0;
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while ((sends.size() < 64 || recvs < c.recvsPosted) && System.nanoTime() < deadline) {
      WorkCompletion wc = c.cq.poll();
      if (wc == null) {
        Thread.onSpinWait();
      } else if (wc.opcode() == WcOpcode.RECV || wc.wrId() < 1000) {
        recvs++;
      } else {
        sends.add(wc);
      }
    }
    assertEquals(64, sends.size(), "every send completed: " + sends);
    assertEquals(c.recvsPosted, recvs, "every receive completed (echoes, then WR_FLUSH_ERR)");
    int firstError = 0;
    while (firstError < sends.size() && sends.get(firstError).status() == WcStatus.SUCCESS) {
      firstError++;
    }
    assertTrue(firstError < sends.size(), "the dead peer failed a send");
    assertEquals(WcStatus.RETRY_EXC_ERR, sends.get(firstError).status(), sends.toString());
    for (int i = firstError + 1; i < sends.size(); i++) {
      assertEquals(WcStatus.WR_FLUSH_ERR, sends.get(i).status(), sends.toString());
    }
    assertEquals(PortState.ACTIVE, dev.cachedPort(1).state(), "the survivor's port stays ACTIVE");

    // The Split Brain Resolver downs the dead node: its routes go, this node's port stays ACTIVE.
    int nodes = ClusterFabric.get(system).gids().size();
    Awaitility.await().atMost(DEADLINE).until(() -> ClusterFabric.get(system).gids().size() < nodes);
    assertEquals(PortState.ACTIVE, dev.cachedPort(1).state());

    // A freshly started node can be connected and carries traffic.
    pingPong(connect(spawn()), 50);
  }

  @Test
  void gracefulLeaveFlushesTheSurvivorsQp() throws Exception {
    Conn c = connect(spawn());
    pingPong(c, 20);
    int nodes = ClusterFabric.get(system).gids().size();
    c.process.destroy(); // SIGTERM: the peer's CoordinatedShutdown unregisters its device and leaves the cluster
    assertTrue(c.process.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS), "the peer exited");
    Awaitility.await().atMost(DEADLINE).until(() -> ClusterFabric.get(system).gids().size() < nodes);
    for (int i = 0; i < 5; i++) {
      c.qp.postSend(SendWr.send(1000 + i, SendFlags.SIGNALED, Sge.of(c.mr, (long) DEPTH * SIZE, SIZE)));
    }
    List<WorkCompletion> all = poll(c, 5 + c.recvsPosted);
    long retry = all.stream().filter(w -> w.status() == WcStatus.RETRY_EXC_ERR).count();
    long flushed = all.stream().filter(w -> w.status() == WcStatus.WR_FLUSH_ERR).count();
    assertEquals(1, retry, all.toString());
    assertEquals(4 + c.recvsPosted, flushed, "the other sends and every receive flushed: " + all);
    assertEquals(PortState.ACTIVE, dev.cachedPort(1).state());
  }

  @Test
  void gracefulLeaveGivesTheCmPeerDisconnectedAndFlushes() throws Exception {
    Peer peer = spawn("cm");
    String line = peer.next();
    while (!line.startsWith("LISTENING ")) {
      line = peer.next();
    }
    String[] words = line.split("[ =/]");
    Gid peerGid = new Gid(Long.parseUnsignedLong(words[2], 16), Long.parseUnsignedLong(words[3], 16));
    ClusterFabric.get(system).whenRoutable(peerGid).toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    CompletionQueue cq = dev.createCq(4 * DEPTH, null, null, null).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MemoryRegion mr = pd.registerMr(ByteBuffer.allocateDirect((DEPTH + 1) * SIZE), AccessFlags.LOCAL_WRITE)
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    QueuePair qp = pd.createQp(QpInitAttr.of(QpType.RC, cq, new QpCap(DEPTH, DEPTH, 1, 1, 0)))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    Conn c = new Conn(peer.process(), qp, cq, mr);
    ConnectionManager cm = ClusterFabric.get(system).midlayer().connectionManager();
    cm.initQp(qp, 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
    for (int i = 0; i < DEPTH; i++) {
      qp.postRecv(RecvWr.of(i, Sge.of(mr, (long) i * SIZE, SIZE)));
      c.recvsPosted++;
    }
    BlockingQueue<CmEvent> events = new LinkedBlockingQueue<>();
    cm.connect(dev, 1, CmDestination.gid(peerGid), TwoJvmPeer.SERVICE_ID, qp, null,
        ConnectOptions.defaults().withEvents(CmEventSink.of(events::add))).toCompletableFuture()
        .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    assertEquals("READY", peer.next(), "the peer accepted");
    pingPong(c, 20);

    c.process.destroy(); // SIGTERM: CoordinatedShutdown unregisters the peer's device, whose CM sends DREQ
    CmEvent e = events.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    while (e != null && !(e instanceof CmEvent.Disconnected)) {
      e = events.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }
    assertTrue(e instanceof CmEvent.Disconnected, "DISCONNECTED within " + DEADLINE + ", got " + e);
    List<WorkCompletion> flushed = poll(c, c.recvsPosted);
    assertTrue(flushed.stream().allMatch(w -> w.status() == WcStatus.WR_FLUSH_ERR), flushed.toString());
    assertEquals(QpState.ERR, qp.state(), "the CM moved the QP to ERR");
    assertTrue(c.process.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS), "the peer exited");
  }

  /** {@code n} round trips: a message out, its echo back, bytes checked. */
  private void pingPong(Conn c, int n) throws Exception {
    ByteBuffer b = c.mr.buffer();
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < SIZE; j++) {
        b.put(DEPTH * SIZE + j, (byte) (i * 31 + j));
      }
      c.qp.postSend(SendWr.send(i, SendFlags.SIGNALED, Sge.of(c.mr, (long) DEPTH * SIZE, SIZE)));
      List<WorkCompletion> two = poll(c, 2);
      WorkCompletion recv = two.stream().filter(w -> w.opcode() == WcOpcode.RECV).findFirst().orElseThrow();
      for (WorkCompletion w : two) {
        assertEquals(WcStatus.SUCCESS, w.status(), w.toString());
      }
      int slot = (int) recv.wrId();
      for (int j = 0; j < SIZE; j++) {
        assertEquals((byte) (i * 31 + j), b.get(slot * SIZE + j), "echo " + i + " byte " + j);
      }
      c.qp.postRecv(RecvWr.of(slot, Sge.of(c.mr, (long) slot * SIZE, SIZE)));
    }
  }

  private List<WorkCompletion> poll(Conn c, int n) {
    List<WorkCompletion> out = new ArrayList<>();
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (out.size() < n && System.nanoTime() < deadline) {
      WorkCompletion wc = c.cq.poll();
      if (wc == null) {
        Thread.onSpinWait();
      } else {
        out.add(wc);
      }
    }
    assertEquals(n, out.size(), "completions within " + DEADLINE + ": " + out);
    return out;
  }

  /** A running peer JVM and the lines it printed. */
  private record Peer(Process process, BlockingQueue<String> lines) {
    String next() throws InterruptedException {
      String line = lines.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      if (line == null) {
        throw new AssertionError("the peer printed nothing within " + DEADLINE);
      }
      return line;
    }
  }

  private Peer spawn(String... mode) throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    var address = system.address();
    List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
        TwoJvmPeer.class.getName(), address.host().get() + ":" + address.port().get()));
    command.addAll(List.of(mode));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process p = pb.start();
    peers.add(p);
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          lines.add(line);
        }
      } catch (java.io.IOException gone) {
        // the peer exited
      }
    }, "two-jvm-peer-stdout");
    reader.setDaemon(true);
    reader.start();
    return new Peer(p, lines);
  }

  private Conn connect(Peer peer) throws Exception {
    String line = peer.next();
    while (!line.startsWith("PEER ")) {
      line = peer.next();
    }
    String[] words = line.split("[ =/]");
    int peerQpn = Integer.parseInt(words[2]);
    Gid peerGid = new Gid(Long.parseUnsignedLong(words[4], 16), Long.parseUnsignedLong(words[5], 16));
    // Discovery first (the GID table learns the new node's ports through the Receptionist), as ARP before traffic.
    Awaitility.await().atMost(DEADLINE).until(() -> ClusterFabric.get(system).gids().contains(peerGid));
    CompletionQueue cq = dev.createCq(4 * DEPTH, null, null, null).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MemoryRegion mr = pd.registerMr(ByteBuffer.allocateDirect((DEPTH + 1) * SIZE), AccessFlags.LOCAL_WRITE)
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    QueuePair qp = pd.createQp(QpInitAttr.of(QpType.RC, cq, new QpCap(DEPTH, DEPTH, 1, 1, 0)))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    Conn c = new Conn(peer.process(), qp, cq, mr);
    QpConnect.connect(qp, AhAttr.ofGid(1, peerGid), peerQpn, 0x100, 0x200, PARAMS).toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
    for (int i = 0; i < DEPTH; i++) {
      qp.postRecv(RecvWr.of(i, Sge.of(mr, (long) i * SIZE, SIZE)));
      c.recvsPosted++;
    }
    Gid mine = dev.cachedPort(1).gids().get(0);
    Writer w = new OutputStreamWriter(peer.process().getOutputStream(), StandardCharsets.UTF_8);
    w.write("CONNECT qpn=" + qp.qpNum() + " gid=" + Long.toHexString(mine.subnetPrefix()) + "/"
        + Long.toHexString(mine.interfaceId()) + "\n");
    w.flush();
    String ready = peer.next();
    assertEquals("READY", ready, "the peer connected");
    return c;
  }
}
