package dev.midlayer.ulp.fetch;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.CmRequest;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What both sides of the fetch protocol own on one device: a PD, a CQ polled by its actor, and an RC QP
 * that signals only the work requests that ask for it. The set-up and {@link #close()} <b>may sleep</b>:
 * call them from a client's {@code add}/{@code remove} or a plain thread, never from a callback.
 */
public abstract class FetchEndpoint implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FetchEndpoint.class);
  /** A request: request id, store offset, target iova, length, rkey (32 bytes, big-endian). */
  static final int REQUEST_BYTES = 32;
  /** A response: request id, the request's key, status, length (16 bytes, big-endian). */
  static final int RESPONSE_BYTES = 16;
  static final int STATUS_OK = 0;
  static final int STATUS_OUT_OF_RANGE = 1;
  private static final long TIMEOUT_SECONDS = 10;

  protected final Device device;
  protected final ProtectionDomain pd;
  protected final CompletionQueue cq;
  protected final QueuePair qp;
  /** Set by {@link #listen} or {@link #connect(ConnectionManager, CmDestination, long)}; a CM callback may write it. */
  private volatile CmConnection connection;
  private volatile CmListener listener;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** May sleep. {@code depth} requests may be outstanding; each needs up to 3 send WRs (REG_MR, SEND, LOCAL_INV). */
  protected FetchEndpoint(Device device, int depth) {
    this.device = device;
    this.pd = await(device.allocPd());
    this.cq = await(device.allocCq(8 * depth, PollContext.ACTOR));
    // Not every WR signaled: REG_MR and RDMA WRITE complete silently, the SEND after them is signaled.
    // Answers are sent INLINE (their buffer is free once posted). One more WR on each queue for the drain's marker.
    this.qp = await(pd.createQp(QpInitAttr.builder(QpType.RC).cq(cq)
        .cap(QpCap.builder().maxSendWr(3 * depth + 1).maxRecvWr(depth + 1).maxInlineData(RESPONSE_BYTES).build())
        .signalAll(false)
        .build()));
  }

  /**
   * The target's side of a connection through the connection manager {@code cm} (the one of the device's
   * midlayer, {@code Midlayer.connectionManager()}): listens for {@code serviceId} on port 1,
   * and accepts the first REQ with this side's QP. The receives are posted before the REP goes out (the CM
   * moved the QP to INIT first, as {@code rdma_cm} allows), so the initiator's first SEND finds one. Returns
   * once the listener is in place (<b>may sleep</b>); the stage completes when the connection is established.
   */
  public final CompletionStage<CmConnection> listen(ConnectionManager cm, long serviceId) {
    CompletableFuture<CmConnection> established = new CompletableFuture<>();
    java.util.concurrent.atomic.AtomicBoolean claimed = new java.util.concurrent.atomic.AtomicBoolean();
    listener = await(cm.listen(device, 1, serviceId, CmEventSink.of(event -> {
      if (event instanceof CmEvent.ConnectRequest r) {
        if (!claimed.compareAndSet(false, true)) {
          r.reject(null); // one initiator per endpoint: its QP is taken
          return;
        }
        cm.initQp(qp, 1).thenCompose(done -> {
          postReceives();
          return r.accept(qp, null);
        }).whenComplete((c, failure) -> complete(established, c, failure));
      }
    })));
    return established;
  }

  /**
   * The initiator's side: moves the QP to INIT, posts the receives, then connects it to the listener of
   * {@code serviceId} at {@code destination} (a GID, or a node address and device name) through the connection
   * manager, which exchanges QPNs and PSNs. <b>May sleep</b> until the connection is established.
   */
  public final void connect(ConnectionManager cm, CmDestination destination, long serviceId) {
    await(cm.initQp(qp, 1));
    postReceives();
    connection = await(cm.connect(device, 1, destination, serviceId, qp, null));
  }

  /**
   * The target's side of one connection request a registered client's listener received: moves the QP to INIT,
   * posts the receives, then accepts {@code request} with this side's QP, the connection's events going to
   * {@code events}. <b>May sleep</b> until the connection is established: from a thread where blocking is allowed
   * (never from the CM's callback that delivered the request).
   */
  final CmConnection accept(ConnectionManager cm, CmRequest request, CmEventSink events) {
    await(cm.initQp(qp, 1));
    postReceives();
    CmConnection c = await(request.accept(qp, null, events));
    connection = c;
    return c;
  }

  /** The connection through the CM, or null before it is established (or when connected by hand). */
  final CmConnection connection() {
    return connection;
  }

  private void complete(CompletableFuture<CmConnection> established, CmConnection c, Throwable failure) {
    if (failure != null) {
      established.completeExceptionally(failure);
    } else {
      connection = c;
      established.complete(c);
    }
  }

  /** This side's GID on port 1: the destination an initiator connects to. */
  public Gid gid() {
    return device.cachedPort(1).gids().get(0);
  }

  /** This side's QP number, to hand to the peer out of band when not connecting through the CM. */
  public int qpNum() {
    return qp.qpNum();
  }

  /** This side's LID on port 1. */
  public int lid() {
    return device.cachedPort(1).lid();
  }

  /**
   * Connects the QP to the peer's ({@code RESET} to {@code RTS}), accepting remote writes. May sleep.
   *
   * @param sqPsn this side's first PSN; the peer passes it as its {@code peerPsn}
   */
  public final void connect(int peerLid, int peerQpNum, int sqPsn, int peerPsn) {
    connect(peerLid, peerQpNum, sqPsn, peerPsn, QpConnect.Params.defaults());
  }

  /** As {@link #connect(int, int, int, int)}, with the given transport parameters (retries, timers). May sleep. */
  public final void connect(int peerLid, int peerQpNum, int sqPsn, int peerPsn, QpConnect.Params params) {
    await(QpConnect.connect(qp, AhAttr.ofLid(params.portNum(), peerLid), peerQpNum, sqPsn, peerPsn, params));
    postReceives();
  }

  /** Posts every receive buffer, once the QP is connected. May sleep. */
  protected abstract void postReceives();

  /** Registers a new direct buffer of {@code bytes} for local access. May sleep. */
  protected MemoryRegion localBuffer(int bytes) {
    return await(pd.registerMr(ByteBuffer.allocateDirect(bytes), AccessFlags.LOCAL_WRITE));
  }

  /**
   * Disconnects (if connected through the CM), stops the listener, drains the QP (every WR posted on it
   * completes, the outstanding ones with WR_FLUSH_ERR, and their callbacks run), then destroys the QP and the CQ,
   * the subclass's resources, and the PD. A step that fails is logged and the next ones still run, so nothing is
   * left behind; a second call does nothing. <b>May sleep</b>: from a client's {@code remove} or a plain thread,
   * never from this endpoint's callbacks.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    CmConnection c = connection;
    if (c != null) {
      quietly("disconnect", () -> await(c.disconnect())); // DREQ/DREP: both QPs to ERR, outstanding WRs flush
    }
    CmListener l = listener;
    if (l != null) {
      quietly("listener stop", () -> await(l.stop()));
    }
    // A QP never moved out of RESET has nothing to drain (the drain fails): destroy it all the same.
    quietly("drain", () -> await(qp.drainQp()));
    quietly("QP destroy", () -> await(qp.destroy()));
    quietly("CQ destroy", () -> await(cq.destroy()));
    quietly("release", this::closeResources);
    quietly("PD dealloc", () -> await(pd.dealloc()));
  }

  private void quietly(String step, Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      log.debug("fetch endpoint QP {} on {}: {}: {}", qp.qpNum(), device.name(), step, e.getMessage());
    }
  }

  /** Frees the subclass's memory regions (the QP and CQ are gone). May sleep. */
  protected abstract void closeResources();

  static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new FetchException("set-up failed: " + e.getCause().getMessage(), e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new FetchException("set-up timed out after " + TIMEOUT_SECONDS + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FetchException("interrupted during set-up", e);
    }
  }
}
