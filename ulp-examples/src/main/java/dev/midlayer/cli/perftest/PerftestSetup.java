package dev.midlayer.cli.perftest;

import dev.midlayer.cli.ClusterNode;
import dev.midlayer.cli.MidlayerCli;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cm.ConnectionRejectedException;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.cluster.ClusterFabric;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.MidlayerException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.Sge;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * The resources of one perftest run, as perftest's {@code ctx_init} and {@code ctx_connect} make them: per end a
 * device, one PD, one CQ (send and receive completions of all the end's QPs), {@code qps} RC QPs and one
 * direct-buffer MR per QP; the QP pairs connected by the connection manager, whose REQ and REP private data
 * carry each side's MR (address and rkey) and a checksum of the test's options.
 *
 * <p>{@link Role#BOTH}: both ends in this JVM, a client device {@code lo0} and a server device {@code lo1} on
 * the loopback fabric. {@link Role#SERVER} and {@link Role#CLIENT}: one end per JVM on the cluster fabric, each
 * JVM a cluster node (see {@link ClusterNode}); the server's node forms a cluster on its {@code --bind} address
 * and listens on device {@value #SERVER_DEVICE}; the client's node joins it and connects there. The client's
 * result rows travel to the server as one Artery message, so both print them.
 *
 * <p>Threading: built and closed by the command's thread (may sleep); the objects it holds are then used by
 * the benchmark's threads.
 */
final class PerftestSetup implements AutoCloseable {
  /** Most bytes of inline data a QP is created for (perftest's default for SEND on most HCAs). */
  static final int DEFAULT_INLINE = 236;
  /** The CM service ID perftest servers listen on: "MLPT" and perftest's port. */
  static final long SERVICE_ID = 0x4D4C_5054_0000_0000L | RemoteOptions.DEFAULT_PORT;
  /** The server's device: the first (and only) one of the fabric on its node. */
  static final String SERVER_DEVICE = "cl0";
  private static final long SETUP_TIMEOUT_S = 120;
  /** How long a client waits to join the server's node; a server that is not there is a usage mistake. */
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(20);
  private static final int MAGIC = 0x4D4C5054;
  private static final String RESULT_ACTOR = "perftest-result";

  /** Which ends of the run this process holds. */
  enum Role {
    BOTH,
    CLIENT,
    SERVER
  }

  /** What a run asks for. */
  record Spec(int qps, int size, int sendDepth, int recvDepth, int inlineSize, boolean signalAll,
      CompletionHandler clientHandler, CompletionHandler serverHandler, int mrBytes, int mrAccess, QpType type) {
    /** RC QPs. */
    Spec(int qps, int size, int sendDepth, int recvDepth, int inlineSize, boolean signalAll,
        CompletionHandler clientHandler, CompletionHandler serverHandler, int mrBytes, int mrAccess) {
      this(qps, size, sendDepth, recvDepth, inlineSize, signalAll, clientHandler, serverHandler, mrBytes, mrAccess,
          QpType.RC);
    }

    /** The same run on QPs of {@code qpType} (perftest's {@code -c}). */
    Spec withType(QpType qpType) {
      return new Spec(qps, size, sendDepth, recvDepth, inlineSize, signalAll, clientHandler, serverHandler, mrBytes,
          mrAccess, qpType);
    }

    /** Two-sided runs: one MR of {@code size} bytes per QP and side, local access only. */
    Spec(int qps, int size, int sendDepth, int recvDepth, int inlineSize, boolean signalAll,
        CompletionHandler clientHandler, CompletionHandler serverHandler) {
      this(qps, size, sendDepth, recvDepth, inlineSize, signalAll, clientHandler, serverHandler, size,
          AccessFlags.LOCAL_WRITE);
    }

    /** The options both ends must agree on, as text (the checksum travels in the REQ). */
    String shape() {
      return "qps=" + qps + " size=" + size + " tx=" + sendDepth + " rx=" + recvDepth + " inline=" + inlineSize
          + " signal-all=" + signalAll + " mr=" + mrBytes + " access=" + mrAccess + " type=" + type;
    }
  }

  /** The access one-sided runs register both sides' MRs with: the peer may write, read and add to them. */
  static final int REMOTE_ACCESS = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ
      | AccessFlags.REMOTE_ATOMIC;

  /** A peer's MR as its REQ or REP named it: where the client's RDMA WRITEs, READs and atomics go. */
  record RemoteMr(long iova, int rkey) {
    static RemoteMr of(MemoryRegion mr) {
      return new RemoteMr(mr.iova(), mr.rkey());
    }
  }

  final Role role;
  final ActorSystem<Void> system;
  /** The client end (null on a server): its CQ, QPs and MRs. */
  final CompletionQueue clientCq;
  final QueuePair[] clientQps;
  final MemoryRegion[] clientMrs;
  /** The server end (null on a client). */
  final CompletionQueue serverCq;
  final QueuePair[] serverQps;
  final MemoryRegion[] serverMrs;
  /** The server's MRs as the client knows them (from the REPs); null on a server. */
  final RemoteMr[] serverMrsRemote;
  /** The client's MRs as the server knows them (from the REQs); null on a client. */
  final RemoteMr[] clientMrsRemote;

  private final End client;
  private final End server;
  private final List<CmConnection> clientConnections = new ArrayList<>();
  private CmListener listener;
  /** The server's copy of the client's result lines; failed if the client's node left first. */
  private final CompletableFuture<String> clientResult = new CompletableFuture<>();
  /** The server's: every connection got DISCONNECTED. */
  private final CompletableFuture<Done> disconnected = new CompletableFuture<>();
  private org.apache.pekko.actor.ActorRef resultBox;
  /** The server's: the incarnation uids of the nodes of the clients it accepted. */
  private final java.util.Set<Long> clientNodes = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** One end's resources. */
  private static final class End {
    final Device device;
    final ProtectionDomain pd;
    final CompletionQueue cq;
    final QueuePair[] qps;
    final MemoryRegion[] mrs;

    /** Makes the end's objects; if any fails, destroys the ones made before rethrowing (nothing is left). */
    End(Device device, Spec spec, CompletionHandler handler, Consumer<ByteBuffer> prepare) throws Exception {
      this.device = device;
      pd = await(device.allocPd());
      CompletionQueue madeCq = null;
      List<QueuePair> madeQps = new ArrayList<>();
      List<MemoryRegion> madeMrs = new ArrayList<>();
      try {
        // Sends and receives of every QP of an end complete into one CQ: it must hold all outstanding ones.
        long depth = Math.max(64L, ((long) spec.sendDepth() + spec.recvDepth()) * spec.qps());
        int maxCqe = device.attributes().maxCqe();
        if (depth > maxCqe) {
          throw new PerftestException("a CQ for " + spec.qps() + " QPs with " + spec.sendDepth() + " sends and "
              + spec.recvDepth() + " receives outstanding each needs " + depth + " entries; the device allows "
              + maxCqe + " (lower -t or -q)");
        }
        madeCq = await(device.createCq((int) depth, handler, null, null));
        QpCap cap = new QpCap(spec.sendDepth(), spec.recvDepth(), 1, 1, spec.inlineSize());
        List<CompletionStage<QueuePair>> qpStages = new ArrayList<>();
        List<CompletionStage<MemoryRegion>> mrStages = new ArrayList<>();
        int mrBytes = Math.max(1, Math.max(spec.size(), spec.mrBytes()));
        for (int i = 0; i < spec.qps(); i++) {
          qpStages.add(pd.createQp(new QpInitAttr(spec.type(), madeCq, madeCq, cap, spec.signalAll(), null, i)));
          mrStages.add(pd.registerMr(filled(mrBytes), spec.mrAccess()));
        }
        Exception qpFailure = settle(qpStages, madeQps);
        Exception mrFailure = settle(mrStages, madeMrs);
        if (qpFailure != null || mrFailure != null) {
          throw qpFailure != null ? qpFailure : mrFailure;
        }
      } catch (Exception | Error e) {
        release(madeQps, madeMrs, madeCq, pd);
        throw e;
      }
      cq = madeCq;
      qps = madeQps.toArray(new QueuePair[0]);
      mrs = madeMrs.toArray(new MemoryRegion[0]);
      for (MemoryRegion mr : mrs) {
        prepare.accept(mr.buffer());
      }
    }

    /** Waits for every stage; adds the results that succeeded to {@code made}; returns the first failure, or null. */
    private static <T> Exception settle(List<CompletionStage<T>> stages, List<T> made) throws InterruptedException {
      Exception first = null;
      for (CompletionStage<T> stage : stages) {
        try {
          made.add(await(stage));
        } catch (InterruptedException e) {
          throw e;
        } catch (Exception e) {
          first = first == null ? e : first;
        }
      }
      return first;
    }

    /** Best effort, newest first: what a failed set-up made goes before the failure is reported. */
    private static void release(List<QueuePair> qps, List<MemoryRegion> mrs, CompletionQueue cq,
        ProtectionDomain pd) {
      try {
        List<CompletionStage<Done>> gone = new ArrayList<>();
        for (QueuePair qp : qps) {
          gone.add(qp.destroy());
        }
        awaitAll(gone);
        gone.clear();
        for (MemoryRegion mr : mrs) {
          gone.add(mr.deregister());
        }
        if (cq != null) {
          gone.add(cq.destroy());
        }
        awaitAll(gone);
        await(pd.dealloc());
      } catch (Exception e) {
        // The actor system's termination reclaims (and reports) whatever could not be destroyed here.
      }
    }

    Gid gid() {
      return device.cachedPort(1).gids().get(0);
    }

    /** Destroys QPs, MRs, CQ and PD (the midlayer would report each as left behind). */
    void destroy() throws Exception {
      List<CompletionStage<Done>> gone = new ArrayList<>();
      for (QueuePair qp : qps) {
        gone.add(qp.destroy());
      }
      awaitAll(gone);
      gone.clear();
      for (MemoryRegion mr : mrs) {
        gone.add(mr.deregister());
      }
      gone.add(cq.destroy());
      awaitAll(gone);
      await(pd.dealloc());
    }
  }

  private PerftestSetup(Role role, ActorSystem<Void> system, Spec spec, String shape,
      RemoteOptions.HostPort address, PrintWriter err, Consumer<ByteBuffer> prepare) throws Exception {
    this.role = role;
    this.system = system;
    ClusterFabric cluster = null;
    Device clientDevice = null;
    Device serverDevice = null;
    if (role == Role.BOTH) {
      LoopbackFabric fabric = LoopbackFabric.create(system);
      clientDevice = await(fabric.addDevice("lo%d", 1)).device();
      serverDevice = await(fabric.addDevice("lo%d", 1)).device();
    } else {
      cluster = ClusterFabric.get(system);
      Device d = await(cluster.addDevice("cl%d", 1)).device();
      if (role == Role.SERVER) {
        serverDevice = d;
      } else {
        clientDevice = d;
      }
    }
    End madeClient = null;
    End madeServer = null;
    try {
      madeClient = clientDevice == null ? null : new End(clientDevice, spec, spec.clientHandler(), prepare);
      madeServer = serverDevice == null ? null : new End(serverDevice, spec, spec.serverHandler(), prepare);
    } catch (Exception | Error e) {
      destroyQuietly(madeClient);
      throw e;
    }
    client = madeClient;
    server = madeServer;
    clientCq = client == null ? null : client.cq;
    clientQps = client == null ? null : client.qps;
    clientMrs = client == null ? null : client.mrs;
    serverCq = server == null ? null : server.cq;
    serverQps = server == null ? null : server.qps;
    serverMrs = server == null ? null : server.mrs;
    serverMrsRemote = client == null ? null : new RemoteMr[spec.qps()];
    clientMrsRemote = server == null ? null : new RemoteMr[spec.qps()];

    try {
      connectEnds(spec, shape, address, err, cluster);
    } catch (Exception | Error e) {
      // Refused, unreachable, timed out: what this run made goes before the failure is reported.
      teardown();
      throw e;
    }
  }

  /** Listens and connects the ends through the CM (the second half of the constructor). */
  private void connectEnds(Spec spec, String shape, RemoteOptions.HostPort address, PrintWriter err,
      ClusterFabric cluster) throws Exception {
    int checksum = checksum(shape);
    ConnectionManager cm = ConnectionManager.get(system);
    LinkedTransferQueue<CmEvent.ConnectRequest> requests = new LinkedTransferQueue<>();
    if (server != null) {
      listener = await(cm.listen(server.device, 1, SERVICE_ID, CmEventSink.of(event -> {
        if (event instanceof CmEvent.ConnectRequest r) {
          requests.add(r); // never blocks: the command's thread answers
        }
      })));
    }
    List<CompletionStage<CmConnection>> active = new ArrayList<>();
    if (client != null) {
      CmDestination to = role == Role.BOTH ? CmDestination.gid(server.gid())
          : CmDestination.node(new Address("pekko", ClusterNode.SYSTEM, address.host(), address.port()),
              SERVER_DEVICE, 1);
      for (int i = 0; i < spec.qps(); i++) {
        active.add(cm.connect(client.device, 1, to, SERVICE_ID, client.qps[i], req(i, checksum, client.mrs[i])));
      }
    }
    if (server != null) {
      if (role == Role.SERVER) {
        watchForClientLoss();
        system.systemActorOf(Behaviors.receive(String.class).onMessage(String.class, line -> {
          clientResult.complete(line);
          return Behaviors.same();
        }).build(), RESULT_ACTOR, Props.empty());
        // The bound address: --bind may ask for port 0 (any free port).
        Address self = system.address();
        err.println("perftest: waiting for a client on " + self.host().get() + ":" + self.port().get() + " (device "
            + server.device.name() + ")");
        err.flush();
      }
      acceptAll(requests, spec, shape, checksum, cluster, err);
    }
    if (client != null) {
      for (int i = 0; i < spec.qps(); i++) {
        CmConnection c = awaitConnect(active.get(i), address);
        clientConnections.add(c);
        serverMrsRemote[i] = rep(c.remotePrivateData());
        if (cluster != null) {
          // The CM spoke through Artery actors; the data path needs the server's port in this node's GID table.
          await(cluster.whenRoutable(c.remoteGid()));
        }
      }
      if (role == Role.CLIENT) {
        resultBox = resolveResultBox(address);
      }
    }
  }

  /** Answers REQs until every QP of the server end is connected; refuses clients with other options. */
  private void acceptAll(LinkedTransferQueue<CmEvent.ConnectRequest> requests, Spec spec, String shape,
      int checksum, ClusterFabric cluster, PrintWriter err) throws Exception {
    List<CompletionStage<CmConnection>> passive = new ArrayList<>();
    AtomicInteger gone = new AtomicInteger();
    CmEventSink events = CmEventSink.of(event -> {
      if (event instanceof CmEvent.Disconnected && gone.incrementAndGet() == spec.qps()) {
        disconnected.complete(Done.getInstance());
      }
    });
    boolean[] taken = new boolean[spec.qps()];
    while (passive.size() < spec.qps()) {
      // The first REQ may take as long as the user needs to start the client; the others follow at once.
      CmEvent.ConnectRequest r = passive.isEmpty() && role == Role.SERVER ? requests.take()
          : requests.poll(SETUP_TIMEOUT_S, TimeUnit.SECONDS);
      if (r == null) {
        throw new PerftestException("the client connected " + passive.size() + " of " + spec.qps() + " QPs");
      }
      ByteBuffer b = ByteBuffer.wrap(r.privateData() == null ? new byte[0] : r.privateData());
      int qp = b.remaining() >= 24 && b.getInt(0) == MAGIC ? b.getInt(4) : -1;
      String refusal = qp < 0 ? "not a midlayer perftest client"
          : b.getInt(8) != checksum ? "the options differ: this server runs " + shape
          : qp >= spec.qps() || taken[qp] ? "QP index " + qp + " is not free" : null;
      if (refusal != null) {
        r.reject(truncate(refusal, PrivateDataLimits.REJ));
        if (role == Role.SERVER) {
          err.println("perftest: refused a client from " + r.remoteGid() + ": " + refusal);
          err.flush();
        }
        continue;
      }
      taken[qp] = true;
      clientNodes.add(ClusterFabric.nodeUid(r.remoteGid()));
      clientMrsRemote[qp] = new RemoteMr(b.getLong(12), b.getInt(20));
      if (cluster != null) {
        // Our ACKs and READ responses go to the client's GID: wait until discovery routes it.
        await(cluster.whenRoutable(r.remoteGid()));
      }
      passive.add(r.request().accept(server.qps[qp], rep(server.mrs[qp]), events));
    }
    awaitAll(passive);
  }

  /** On a server: an accepted client's node leaving the cluster before its result came ends the wait for it. */
  private void watchForClientLoss() {
    var watcher = system.systemActorOf(Behaviors.receive(ClusterEvent.MemberRemoved.class)
        .onMessage(ClusterEvent.MemberRemoved.class, removed -> {
          if (!clientNodes.contains(removed.member().uniqueAddress().longUid())) {
            return Behaviors.same(); // a refused client's node, or another member
          }
          clientResult.completeExceptionally(new PerftestException("the client's node "
              + removed.member().address() + " left the cluster before it sent its result"));
          return Behaviors.same();
        }).build(), "perftest-member-watch", Props.empty());
    Cluster.get(system).subscriptions().tell(Subscribe.create(watcher, ClusterEvent.MemberRemoved.class));
  }

  /** A REQ's private data: magic, QP index, options checksum, the client MR's address and rkey. */
  private static byte[] req(int qp, int checksum, MemoryRegion mr) {
    return ByteBuffer.allocate(24).putInt(MAGIC).putInt(qp).putInt(checksum).putLong(mr.iova()).putInt(mr.rkey())
        .array();
  }

  /** A REP's private data: magic, the server MR's address and rkey. */
  private static byte[] rep(MemoryRegion mr) {
    return ByteBuffer.allocate(16).putInt(MAGIC).putLong(mr.iova()).putInt(mr.rkey()).array();
  }

  private static RemoteMr rep(byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data == null ? new byte[0] : data);
    if (b.remaining() < 16 || b.getInt(0) != MAGIC) {
      throw new PerftestException("the server's REP is not a midlayer perftest server's");
    }
    return new RemoteMr(b.getLong(4), b.getInt(12));
  }

  private static int checksum(String shape) {
    CRC32 crc = new CRC32();
    crc.update(shape.getBytes(StandardCharsets.UTF_8));
    return (int) crc.getValue();
  }

  private static byte[] truncate(String s, int max) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return b.length <= max ? b : Arrays.copyOf(b, max);
  }

  /**
   * Starts the actor system the role needs and builds the resources: for {@link Role#SERVER} this returns once a
   * client connected (it waits as long as it takes). {@code shape} names the test and the options both ends must
   * share; {@code address} is the server's {@code --bind} or the client's {@code --connect} (null for BOTH).
   */
  static PerftestSetup create(Spec spec, Role role, String shape, RemoteOptions.HostPort address, PrintWriter err)
      throws Exception {
    return create(spec, role, shape, address, err, buffer -> { });
  }

  /**
   * As {@link #create(Spec, Role, String, RemoteOptions.HostPort, PrintWriter)}, with {@code prepare} run on the
   * buffer of every MR of this JVM's ends before any connection exists (so before the peer can write to it).
   */
  static PerftestSetup create(Spec spec, Role role, String shape, RemoteOptions.HostPort address, PrintWriter err,
      Consumer<ByteBuffer> prepare) throws Exception {
    ActorSystem<Void> system = startSystem(role, address);
    try {
      return new PerftestSetup(role, system, spec, shape + " " + spec.shape(), address, err, prepare);
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

  /** Both ends in this JVM on the loopback fabric (the tests' and the demo's way). */
  static PerftestSetup create(Spec spec) throws Exception {
    return create(spec, Role.BOTH, "", null, null);
  }

  private static ActorSystem<Void> startSystem(Role role, RemoteOptions.HostPort address) throws Exception {
    if (role == Role.BOTH) {
      return startSystem();
    }
    ActorSystem<Void> system = role == Role.SERVER ? ClusterNode.start(address.host(), address.port())
        : ClusterNode.start(localHostFor(address.host()), 0);
    List<String[]> seeds = role == Role.SERVER ? List.of()
        : List.<String[]>of(new String[] {address.host(), String.valueOf(address.port())});
    try {
      ClusterNode.join(system, seeds).get(JOIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      stopSystem(system);
      throw new PerftestException("no perftest server at " + address + " (start one with --fabric cluster "
          + "--server --bind " + address + ")");
    }
    return system;
  }

  static ActorSystem<Void> startSystem() {
    return MidlayerCli.startSystem();
  }

  static void stopSystem(ActorSystem<?> system) throws Exception {
    MidlayerCli.stopSystem(system);
  }

  /** The address a client listens on to be reachable from {@code serverHost}: loopback for a local server. */
  private static String localHostFor(String serverHost) throws UnknownHostException {
    InetAddress server = InetAddress.getByName(serverHost);
    return server.isLoopbackAddress() ? server.getHostAddress() : InetAddress.getLocalHost().getHostAddress();
  }

  private org.apache.pekko.actor.ActorRef resolveResultBox(RemoteOptions.HostPort to) throws Exception {
    String path = "pekko://" + ClusterNode.SYSTEM + "@" + to + "/system/" + RESULT_ACTOR;
    try {
      return Adapter.toClassic(system).actorSelection(path).resolveOne(Duration.ofSeconds(10))
          .toCompletableFuture().get(15, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new PerftestException("the perftest server at " + to + " has no result box: " + e);
    }
  }

  private static CmConnection awaitConnect(CompletionStage<CmConnection> stage, RemoteOptions.HostPort to)
      throws Exception {
    try {
      return stage.toCompletableFuture().get(SETUP_TIMEOUT_S, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ConnectionRejectedException r) {
        byte[] why = r.privateData();
        throw new PerftestException("the server " + (to == null ? "" : "at " + to + " ") + "refused the "
            + "connection (" + r.reason() + ")" + (why == null || why.length == 0 ? ""
                : ": " + new String(why, StandardCharsets.UTF_8)), r);
      }
      throw e;
    }
  }

  // ---- the server's and the client's end of the run ----

  /**
   * On a server, in its CQ loop: true if {@code wc} is a flush because the client disconnected (the run is over),
   * false for any other failed completion. Never blocks.
   */
  boolean clientGone(WorkCompletion wc) {
    return role == Role.SERVER && wc.status() == WcStatus.WR_FLUSH_ERR;
  }

  /** On a server: true once the client's result arrived (its run is over). Never blocks. */
  boolean clientDone() {
    return clientResult.isDone();
  }

  /**
   * On a server: waits for the client's result lines (as long as the run takes), then, briefly, for its
   * disconnect; returns the rows to print.
   */
  List<PerftestOutput> awaitClientResult() throws Exception {
    String lines;
    try {
      lines = clientResult.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof PerftestException p ? p : new PerftestException(String.valueOf(e.getCause()));
    }
    try {
      disconnected.get(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      // The rows are in; the QPs are destroyed on close either way.
    }
    List<PerftestOutput> rows = new ArrayList<>();
    for (String line : lines.split("\n")) {
      rows.add(PerftestOutput.fromJson(line));
    }
    return rows;
  }

  /** On a client: hands the result rows to the server, which prints them too. Never blocks. */
  void handOver(List<PerftestOutput> rows) {
    if (role == Role.CLIENT) {
      StringBuilder lines = new StringBuilder();
      for (PerftestOutput row : rows) {
        lines.append(lines.length() == 0 ? "" : "\n").append(row.json());
      }
      resultBox.tell(lines.toString(), org.apache.pekko.actor.ActorRef.noSender());
    }
  }

  /** The SGE of a message of {@code size} bytes in {@code mr} (none for a zero-byte message). */
  /** This end's QPs: the client's (on loopback, where both ends are here, too), or the server's. */
  QueuePair[] localQps() {
    return clientQps != null ? clientQps : serverQps;
  }

  static Sge[] sges(MemoryRegion mr, int size) {
    return size == 0 ? new Sge[0] : new Sge[] {Sge.of(mr, 0, size)};
  }

  /**
   * Disconnects (DREQ/DREP: the server sees DISCONNECTED), destroys what the run made, then terminates the
   * actor system (which unregisters the devices and, on a cluster node, leaves the cluster) and waits for it.
   */
  @Override
  public void close() {
    teardown();
    try {
      stopSystem(system);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      throw new PerftestException("the actor system did not terminate: " + e, e);
    }
  }

  private static void destroyQuietly(End end) {
    if (end != null) {
      try {
        end.destroy();
      } catch (Exception e) {
        // The actor system's termination reclaims (and reports) what is left.
      }
    }
  }

  /** Disconnects and destroys what the run made; best effort, never throws. */
  private void teardown() {
    try {
      List<CompletionStage<Done>> gone = new ArrayList<>();
      for (CmConnection c : clientConnections) {
        gone.add(c.disconnect());
      }
      awaitAll(gone);
    } catch (Exception e) {
      // Best effort: destroying the QPs ends the connections too.
    }
    try {
      if (listener != null) {
        await(listener.stop());
      }
      if (client != null) {
        client.destroy();
      }
      if (server != null) {
        server.destroy();
      }
    } catch (Exception e) {
      // Tearing down is best effort: terminating the system reclaims (and reports) what is left.
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
