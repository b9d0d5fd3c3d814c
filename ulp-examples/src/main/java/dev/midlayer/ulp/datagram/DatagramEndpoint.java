package dev.midlayer.ulp.datagram;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.Cqe;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.AhFromWc;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.jctools.queues.MpmcArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One device's datagram service: a UD QP on port 1 with its Q_Key, a ring of receives of one GRH plus one path MTU
 * each, a ring of send buffers of one path MTU each, and the address handles of the peers it talked to.
 *
 * <p>{@link #send} never blocks and may be called from any thread and any context: it takes a free send buffer
 * (none free: the datagram is dropped and counted), copies the message in, finds or creates the peer's address
 * handle, and posts. Receives run in the CQ actor's completion callbacks: the message is copied out, the
 * sender's AH created from the work completion if it is new, the receive posted again, then the handler called.
 * {@link #open} and {@link #close} <b>may sleep</b>.
 */
public final class DatagramEndpoint {
  private static final Logger log = LoggerFactory.getLogger(DatagramEndpoint.class);
  private static final Duration VERB_TIMEOUT = Duration.ofSeconds(10);

  private final Device device;
  private final int qkey;
  private final int maxPayload;
  private final int recvSlot;
  private final int sendBase;
  private final ProtectionDomain pd;
  private final CompletionQueue cq;
  private final QueuePair qp;
  private final MemoryRegion mr;
  private final DatagramHandler handler;
  private final RecvWr[] receives;
  private final MpmcArrayQueue<SendSlot> freeSends;
  private final ConcurrentHashMap<DatagramAddress.PathKey, AddressHandle> handles = new ConcurrentHashMap<>();
  private final DatagramAddress address;
  private final LongAdder sent = new LongAdder();
  private final LongAdder received = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder handlesCreated = new LongAdder();
  private volatile boolean closed;

  /** A send buffer and the callback that frees it. */
  private final class SendSlot {
    final int offset;
    final Cqe done = (c, wc) -> onSent(this, wc);

    SendSlot(int offset) {
      this.offset = offset;
    }
  }

  private DatagramEndpoint(Device device, int qkey, int receiveCount, int sendCount, DatagramHandler handler,
      ProtectionDomain pd, CompletionQueue cq, QueuePair qp, MemoryRegion mr, int maxPayload) {
    this.device = device;
    this.qkey = qkey;
    this.handler = handler;
    this.pd = pd;
    this.cq = cq;
    this.qp = qp;
    this.mr = mr;
    this.maxPayload = maxPayload;
    this.recvSlot = AhFromWc.GRH_BYTES + maxPayload;
    this.sendBase = receiveCount * recvSlot;
    this.receives = new RecvWr[receiveCount];
    for (int k = 0; k < receiveCount; k++) {
      int slot = k;
      receives[k] = RecvWr.of((c, wc) -> onReceive(slot, wc), Sge.of(mr, (long) k * recvSlot, recvSlot));
    }
    this.freeSends = new MpmcArrayQueue<>(Math.max(2, sendCount));
    for (int s = 0; s < sendCount; s++) {
      freeSends.offer(new SendSlot(sendBase + s * maxPayload));
    }
    Gid gid = device.cachedPort(1).gids().get(0);
    this.address = new DatagramAddress(gid, device.cachedPort(1).lid(), qp.qpNum());
  }

  /**
   * Sets the service up on port 1 of {@code device}: {@code receives} receives posted, {@code sends} send buffers,
   * Q_Key {@code qkey}. <b>May sleep</b>.
   *
   * @throws DatagramException naming the step that failed (what was made is released)
   */
  public static DatagramEndpoint open(Device device, int qkey, int receives, int sends, DatagramHandler handler) {
    int mtu = device.cachedPort(1).activeMtu().bytes();
    ProtectionDomain pd = await(device.allocPd(), "allocPd on " + device.name());
    CompletionQueue cq = null;
    QueuePair qp = null;
    MemoryRegion mr = null;
    try {
      cq = await(device.allocCq(receives + sends + 2, PollContext.ACTOR), "allocCq on " + device.name());
      qp = await(pd.createQp(QpInitAttr.builder(QpType.UD).cq(cq)
          .cap(QpCap.builder().maxSendWr(sends + 1).maxRecvWr(receives + 1).build())
          .signalAll(true)
          .build()), "createQp (UD) on " + device.name());
      await(QpConnect.ud(qp, 1, qkey, 0), "the move to RTS of UD QP " + qp.qpNum() + " on " + device.name());
      int bytes = receives * (AhFromWc.GRH_BYTES + mtu) + sends * mtu;
      mr = await(pd.registerMr(ByteBuffer.allocateDirect(bytes), AccessFlags.LOCAL_WRITE),
          "registerMr of " + bytes + " bytes on " + device.name());
      DatagramEndpoint ep = new DatagramEndpoint(device, qkey, receives, sends, handler, pd, cq, qp, mr, mtu);
      for (RecvWr r : ep.receives) {
        qp.postRecv(r);
      }
      return ep;
    } catch (RuntimeException e) {
      releaseQuietly(qp == null ? null : qp.destroy());
      releaseQuietly(mr == null ? null : mr.deregister());
      releaseQuietly(cq == null ? null : cq.destroy());
      releaseQuietly(pd.dealloc());
      throw e;
    }
  }

  /** This endpoint's address, to hand to peers. Never blocks; any thread. */
  public DatagramAddress address() {
    return address;
  }

  /** The device it runs on. */
  public Device device() {
    return device;
  }

  /** The largest datagram: the port's active MTU, in bytes. Never blocks; any thread. */
  public int maxPayload() {
    return maxPayload;
  }

  /**
   * Sends {@code payload} to {@code to}. Unreliable, as UD is: a datagram may be lost on the way. <b>Never blocks;
   * any thread and any context</b>, handlers included.
   *
   * @return true if posted; false if dropped here (every send buffer in flight, or the endpoint closed or in
   *     error), counted in {@link #dropped()}
   * @throws DatagramTooLargeException if {@code payload} is longer than {@link #maxPayload()}; nothing is sent
   */
  public boolean send(DatagramAddress to, byte[] payload) {
    if (payload.length > maxPayload) {
      throw new DatagramTooLargeException(payload.length, maxPayload, device.name() + " port 1");
    }
    SendSlot slot = closed ? null : freeSends.poll();
    if (slot == null) {
      dropped.increment();
      return false;
    }
    try {
      AddressHandle ah = handleFor(to.pathKey(), () -> pd.createAh(to.path(1)));
      mr.buffer().put(slot.offset, payload);
      SendWr.Builder wr = SendWr.builder(WrOpcode.SEND).wrId(slot.offset).cqe(slot.done).flags(SendFlags.SIGNALED)
          .ud(ah, to.qpn(), qkey);
      if (payload.length > 0) {
        wr.sge(Sge.of(mr, slot.offset, payload.length));
      }
      qp.postSend(wr.build());
      return true;
    } catch (PostException | IllegalStateException e) {
      freeSends.offer(slot);
      dropped.increment();
      return false;
    }
  }

  /** The cached handle for {@code key}, or a new one (created outside any lock; a lost race destroys its own). */
  private AddressHandle handleFor(DatagramAddress.PathKey key, java.util.function.Supplier<AddressHandle> create) {
    AddressHandle ah = handles.get(key);
    if (ah != null) {
      return ah;
    }
    AddressHandle made = create.get();
    AddressHandle raced = handles.putIfAbsent(key, made);
    if (raced != null) {
      made.destroy();
      return raced;
    }
    handlesCreated.increment();
    return made;
  }

  private void onSent(SendSlot slot, WorkCompletion wc) {
    freeSends.offer(slot);
    if (wc.ok()) {
      sent.increment();
    } else if (wc.status() != WcStatus.WR_FLUSH_ERR) {
      errors.increment();
      log.warn("datagram endpoint on {}: a send completed with {}", device.name(), wc.status());
    }
  }

  private void onReceive(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      return; // flushed: the endpoint is closing
    }
    int at = k * recvSlot;
    byte[] payload = new byte[wc.byteLen() - AhFromWc.GRH_BYTES];
    mr.buffer().get(at + AhFromWc.GRH_BYTES, payload);
    Gid source = (wc.wcFlags() & WcFlags.GRH) != 0 ? AhFromWc.attr(wc, mr.buffer(), at).dgid() : null;
    DatagramAddress from = new DatagramAddress(source, source != null ? 0 : wc.slid(), wc.srcQp());
    // The sender's path, from the completion (ib_create_ah_from_wc), cached for the replies.
    handleFor(from.pathKey(), () -> AhFromWc.create(pd, wc, mr.buffer(), at));
    received.increment();
    try {
      qp.postRecv(receives[k]); // the message is copied out: the buffer takes the next one
    } catch (PostException e) {
      errors.increment();
    }
    handler.onDatagram(new Datagram(this, from, payload));
  }

  /** Datagrams whose send completed. Never blocks; any thread. */
  public long sent() {
    return sent.sum();
  }

  /** Datagrams received. Never blocks; any thread. */
  public long received() {
    return received.sum();
  }

  /** Datagrams {@link #send} dropped (no free send buffer, or closed). Never blocks; any thread. */
  public long dropped() {
    return dropped.sum();
  }

  /** Work requests that completed in error (not flushes). Never blocks; any thread. */
  public long errors() {
    return errors.sum();
  }

  /** Address handles created so far: one per peer path, however many messages. Never blocks; any thread. */
  public long addressHandlesCreated() {
    return handlesCreated.sum();
  }

  /** Address handles held now. Never blocks; any thread. */
  public int addressHandles() {
    return handles.size();
  }

  /**
   * Stops sending, drains the QP (every posted WR completes), destroys it, the address handles, the CQ, the
   * buffers and the PD. <b>May sleep</b>; never from a handler.
   */
  public void close() {
    closed = true;
    await(qp.drainQp(), "drainQp of UD QP " + qp.qpNum() + " on " + device.name());
    await(qp.destroy(), "destroy of UD QP " + qp.qpNum() + " on " + device.name());
    handles.values().forEach(AddressHandle::destroy);
    handles.clear();
    await(cq.destroy(), "destroy of the CQ on " + device.name());
    await(mr.deregister(), "deregister of the buffers on " + device.name());
    await(pd.dealloc(), "dealloc of the PD on " + device.name());
  }

  private static void releaseQuietly(CompletionStage<?> stage) {
    if (stage != null) {
      try {
        stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        log.debug("release after a failed set-up: {}", e.toString());
      }
    }
  }

  static <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new DatagramException(what + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new DatagramException(what + " timed out after " + VERB_TIMEOUT.toSeconds() + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DatagramException(what + " was interrupted", e);
    }
  }
}
