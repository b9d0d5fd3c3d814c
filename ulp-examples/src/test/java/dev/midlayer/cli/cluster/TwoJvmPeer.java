package dev.midlayer.cli.cluster;

import dev.midlayer.cli.ClusterNode;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpCap;
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
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The second JVM of {@link TwoJvmClusterTest}: a cluster node (joined to the seed in {@code args[0]}) with one
 * cluster device and one RC QP that echoes every message it receives. It prints {@code PEER qpn=N gid=P/I} (the
 * GID's subnet prefix and interface id in hex), reads {@code CONNECT qpn=N gid=P/I} from stdin, connects, posts
 * its receives, prints {@code READY}, and echoes until it is killed or terminated (SIGTERM leaves the cluster
 * through CoordinatedShutdown). With {@code cm} as {@code args[1]} it listens through the connection manager on
 * {@link #SERVICE_ID} instead, prints {@code LISTENING gid=P/I}, and prints {@code READY} once connected.
 */
public final class TwoJvmPeer {
  static final int DEPTH = 128;
  static final int SLOT = 256;
  /** The service ID the peer listens on in {@code cm} mode. */
  static final long SERVICE_ID = 0x5457_4F4A_564DL;

  private TwoJvmPeer() {}

  public static void main(String[] args) throws Exception {
    String[] seed = args[0].split(":");
    ActorSystem<Void> system = ClusterNode.start("127.0.0.1", 0);
    ClusterNode.join(system, List.<String[]>of(seed)).get(60, TimeUnit.SECONDS);
    Device dev = ClusterFabric.get(system).addDevice("cl%d", 1).toCompletableFuture().get(30, TimeUnit.SECONDS)
        .device();
    ProtectionDomain pd = dev.allocPd().toCompletableFuture().get(10, TimeUnit.SECONDS);
    CompletionQueue cq = dev.createCq(4 * DEPTH, null, null, null).toCompletableFuture().get(10, TimeUnit.SECONDS);
    MemoryRegion mr = pd.registerMr(ByteBuffer.allocateDirect(2 * DEPTH * SLOT), AccessFlags.LOCAL_WRITE)
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    QueuePair qp = pd.createQp(QpInitAttr.of(QpType.RC, cq, new QpCap(DEPTH, DEPTH, 1, 1, 0)))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    Gid gid = dev.cachedPort(1).gids().get(0);
    if (args.length > 1 && args[1].equals("cm")) {
      // Through the connection manager: listen, accept the first REQ with the receives posted in INIT.
      ConnectionManager cm = ClusterFabric.get(system).midlayer().connectionManager();
      cm.listen(dev, 1, SERVICE_ID, CmEventSink.of(event -> {
        if (event instanceof CmEvent.ConnectRequest r) {
          cm.initQp(qp, 1).thenCompose(done -> {
            for (int i = 0; i < DEPTH; i++) {
              qp.postRecv(RecvWr.of(i, Sge.of(mr, (long) i * SLOT, SLOT)));
            }
            return r.accept(qp, null);
          }).thenAccept(c -> System.out.println("READY"));
        }
      })).toCompletableFuture().get(10, TimeUnit.SECONDS);
      System.out.println("LISTENING gid=" + Long.toHexString(gid.subnetPrefix()) + "/"
          + Long.toHexString(gid.interfaceId()));
      echo(qp, cq, mr);
      return;
    }
    System.out.println("PEER qpn=" + qp.qpNum() + " gid=" + Long.toHexString(gid.subnetPrefix()) + "/"
        + Long.toHexString(gid.interfaceId()));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line = in.readLine();
    String[] words = line.split("[ =/]");
    int remoteQpn = Integer.parseInt(words[2]);
    Gid remote = new Gid(Long.parseUnsignedLong(words[4], 16), Long.parseUnsignedLong(words[5], 16));
    // Discovery first: the GID table learns the test node's ports through the Receptionist.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!ClusterFabric.get(system).gids().contains(remote) && System.nanoTime() < deadline) {
      LockSupport.parkNanos(1_000_000);
    }
    QpConnect.connect(qp, AhAttr.ofGid(1, remote), remoteQpn, 0x200, 0x100, TwoJvmClusterTest.PARAMS)
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    for (int i = 0; i < DEPTH; i++) {
      qp.postRecv(RecvWr.of(i, Sge.of(mr, (long) i * SLOT, SLOT)));
    }
    System.out.println("READY");
    echo(qp, cq, mr);
  }

  /** Echoes every message received on {@code qp} until the JVM ends. */
  private static void echo(QueuePair qp, CompletionQueue cq, MemoryRegion mr) {
    WorkCompletion[] wcs = new WorkCompletion[64];
    int idle = 0;
    while (true) {
      int n = cq.poll(wcs);
      for (int k = 0; k < n; k++) {
        WorkCompletion wc = wcs[k];
        if (wc.opcode() == WcOpcode.RECV && wc.status() == WcStatus.SUCCESS) {
          int slot = (int) wc.wrId();
          // Echo from the second half of the buffer, so the receive can be posted again at once.
          ByteBuffer b = mr.buffer();
          for (int j = 0; j < wc.byteLen(); j++) {
            b.put((DEPTH + slot) * SLOT + j, b.get(slot * SLOT + j));
          }
          qp.postRecv(RecvWr.of(slot, Sge.of(mr, (long) slot * SLOT, SLOT)));
          qp.postSend(SendWr.send(slot, SendFlags.SIGNALED,
              Sge.of(mr, (long) (DEPTH + slot) * SLOT, wc.byteLen())));
        }
      }
      if (n == 0) {
        if (++idle < 1000) {
          Thread.onSpinWait();
        } else {
          LockSupport.parkNanos(50_000); // a test peer: back off so the two JVMs share the machine's cores
        }
      } else {
        idle = 0;
      }
    }
  }
}
