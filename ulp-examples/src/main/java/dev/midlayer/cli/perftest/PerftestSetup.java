package dev.midlayer.cli.perftest;

import dev.midlayer.cli.MidlayerCli;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.MidlayerException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.Sge;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The resources of one perftest run, as perftest's {@code ctx_init} and {@code ctx_connect} make them,
 * with both ends in this JVM: an actor system, a loopback fabric with a client device ({@code lo0}) and
 * a server device ({@code lo1}), one PD and one CQ per side (send and receive completions of all the
 * side's QPs), {@code qps} RC QP pairs connected RESET to RTS with {@link QpConnect}, and one direct-buffer
 * MR of the message size per QP.
 *
 * <p>Threading: built and closed by the command's thread (may sleep); the objects it holds are then used
 * by the benchmark's threads.
 */
final class PerftestSetup implements AutoCloseable {
  /** Most bytes of inline data a QP is created for (perftest's default for SEND on most HCAs). */
  static final int DEFAULT_INLINE = 236;
  private static final long SETUP_TIMEOUT_S = 120;

  /** What a run asks for. */
  record Spec(int qps, int size, int sendDepth, int recvDepth, int inlineSize, boolean signalAll,
      CompletionHandler clientHandler, CompletionHandler serverHandler, int mrBytes, int mrAccess) {
    /** Two-sided runs: one MR of {@code size} bytes per QP and side, local access only. */
    Spec(int qps, int size, int sendDepth, int recvDepth, int inlineSize, boolean signalAll,
        CompletionHandler clientHandler, CompletionHandler serverHandler) {
      this(qps, size, sendDepth, recvDepth, inlineSize, signalAll, clientHandler, serverHandler, size,
          AccessFlags.LOCAL_WRITE);
    }
  }

  /** The access one-sided runs register both sides' MRs with: the peer may write, read and add to them. */
  static final int REMOTE_ACCESS = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ
      | AccessFlags.REMOTE_ATOMIC;

  final ActorSystem<Void> system;
  final LoopbackDevice clientDevice;
  final LoopbackDevice serverDevice;
  final CompletionQueue clientCq;
  final CompletionQueue serverCq;
  final QueuePair[] clientQps;
  final QueuePair[] serverQps;
  final MemoryRegion[] clientMrs;
  final MemoryRegion[] serverMrs;
  private final ProtectionDomain clientPd;
  private final ProtectionDomain serverPd;

  private PerftestSetup(ActorSystem<Void> system, Spec spec) throws Exception {
    this.system = system;
    int qps = spec.qps();
    LoopbackFabric fabric = LoopbackFabric.create(system);
    clientDevice = await(fabric.addDevice("lo%d", 1));
    serverDevice = await(fabric.addDevice("lo%d", 1));
    clientPd = await(clientDevice.device().allocPd());
    serverPd = await(serverDevice.device().allocPd());
    // Sends and receives of every QP of a side complete into one CQ: it must hold all outstanding ones.
    long depth = Math.max(64L, ((long) spec.sendDepth() + spec.recvDepth()) * qps);
    int maxCqe = clientDevice.device().attributes().maxCqe();
    if (depth > maxCqe) {
      throw new PerftestException("a CQ for " + qps + " QPs with " + spec.sendDepth() + " sends and "
          + spec.recvDepth() + " receives outstanding each needs " + depth + " entries; the device allows "
          + maxCqe + " (lower -t or -q)");
    }
    clientCq = await(clientDevice.device().createCq((int) depth, spec.clientHandler(), null, null));
    serverCq = await(serverDevice.device().createCq((int) depth, spec.serverHandler(), null, null));

    QpCap cap = new QpCap(spec.sendDepth(), spec.recvDepth(), 1, 1, spec.inlineSize());
    List<CompletionStage<QueuePair>> client = new ArrayList<>(qps);
    List<CompletionStage<QueuePair>> server = new ArrayList<>(qps);
    List<CompletionStage<MemoryRegion>> clientMr = new ArrayList<>(qps);
    List<CompletionStage<MemoryRegion>> serverMr = new ArrayList<>(qps);
    int mrBytes = Math.max(1, Math.max(spec.size(), spec.mrBytes()));
    for (int i = 0; i < qps; i++) {
      client.add(clientPd.createQp(new QpInitAttr(QpType.RC, clientCq, clientCq, cap, spec.signalAll(), null, i)));
      server.add(serverPd.createQp(new QpInitAttr(QpType.RC, serverCq, serverCq, cap, spec.signalAll(), null, i)));
      clientMr.add(clientPd.registerMr(filled(mrBytes), spec.mrAccess()));
      serverMr.add(serverPd.registerMr(filled(mrBytes), spec.mrAccess()));
    }
    clientQps = awaitAll(client).toArray(new QueuePair[0]);
    serverQps = awaitAll(server).toArray(new QueuePair[0]);
    clientMrs = awaitAll(clientMr).toArray(new MemoryRegion[0]);
    serverMrs = awaitAll(serverMr).toArray(new MemoryRegion[0]);

    // Random 24-bit start PSNs, as perftest draws them; fixed seed so that runs are alike.
    SplittableRandom random = new SplittableRandom(0x5eed);
    AhAttr toServer = AhAttr.ofLid(1, serverDevice.lid(1));
    AhAttr toClient = AhAttr.ofLid(1, clientDevice.lid(1));
    List<CompletionStage<Done>> connects = new ArrayList<>(2 * qps);
    for (int i = 0; i < qps; i++) {
      int clientPsn = random.nextInt(1 << 24);
      int serverPsn = random.nextInt(1 << 24);
      connects.add(QpConnect.connect(clientQps[i], toServer, serverQps[i].qpNum(), clientPsn, serverPsn,
          QpConnect.Params.defaults()));
      connects.add(QpConnect.connect(serverQps[i], toClient, clientQps[i].qpNum(), serverPsn, clientPsn,
          QpConnect.Params.defaults()));
    }
    awaitAll(connects);
  }

  /** Starts the command line's actor system ({@link MidlayerCli#startSystem()}), then builds the resources. */
  static PerftestSetup create(Spec spec) throws Exception {
    ActorSystem<Void> system = startSystem();
    try {
      return new PerftestSetup(system, spec);
    } catch (ExecutionException e) {
      stopSystem(system);
      Throwable cause = e.getCause();
      throw new PerftestException("setup failed: " + cause.getMessage(), cause);
    } catch (MidlayerException e) {
      stopSystem(system);
      throw new PerftestException("setup failed: " + e.getMessage(), e);
    } catch (Exception | Error e) {
      stopSystem(system);
      throw e;
    }
  }

  static ActorSystem<Void> startSystem() {
    return MidlayerCli.startSystem();
  }

  static void stopSystem(ActorSystem<?> system) throws Exception {
    MidlayerCli.stopSystem(system);
  }

  /** The SGE of a message of {@code size} bytes in {@code mr} (none for a zero-byte message). */
  static Sge[] sges(MemoryRegion mr, int size) {
    return size == 0 ? new Sge[0] : new Sge[] {Sge.of(mr, 0, size)};
  }

  /**
   * Destroys what the run made (QPs, MRs, CQs, PDs: the midlayer would report each as left behind), then
   * terminates the actor system (which unregisters the devices) and waits for it.
   */
  @Override
  public void close() {
    try {
      List<CompletionStage<Done>> gone = new ArrayList<>();
      for (QueuePair qp : clientQps) {
        gone.add(qp.destroy());
      }
      for (QueuePair qp : serverQps) {
        gone.add(qp.destroy());
      }
      awaitAll(gone);
      gone.clear();
      for (MemoryRegion mr : clientMrs) {
        gone.add(mr.deregister());
      }
      for (MemoryRegion mr : serverMrs) {
        gone.add(mr.deregister());
      }
      gone.add(clientCq.destroy());
      gone.add(serverCq.destroy());
      awaitAll(gone);
      awaitAll(List.of(clientPd.dealloc(), serverPd.dealloc()));
    } catch (Exception e) {
      // Tearing down is best effort: terminating the system reclaims (and reports) what is left.
    }
    try {
      stopSystem(system);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      throw new PerftestException("the actor system did not terminate: " + e, e);
    }
  }

  private static ByteBuffer filled(int bytes) {
    ByteBuffer b = ByteBuffer.allocateDirect(bytes);
    for (int i = 0; i < bytes; i++) {
      b.put(i, (byte) i);
    }
    return b;
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(SETUP_TIMEOUT_S, TimeUnit.SECONDS);
  }

  private static <T> List<T> awaitAll(List<? extends CompletionStage<T>> stages) throws Exception {
    CompletableFuture<?>[] all = stages.stream().map(CompletionStage::toCompletableFuture)
        .toArray(CompletableFuture[]::new);
    CompletableFuture.allOf(all).get(SETUP_TIMEOUT_S, TimeUnit.SECONDS);
    List<T> out = new ArrayList<>(stages.size());
    for (CompletionStage<T> s : stages) {
      out.add(s.toCompletableFuture().join());
    }
    return out;
  }
}
