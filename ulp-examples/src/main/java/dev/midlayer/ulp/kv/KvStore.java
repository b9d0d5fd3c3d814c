package dev.midlayer.ulp.kv;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jctools.queues.MpmcArrayQueue;

/**
 * A client's connection to a key-value server: {@link #get} is one RDMA READ of the key's first probe window in
 * the server's table, a second of its other window if the key is not in the first (each read again while a slot
 * it needs is torn), {@link #put} a SEND the server answers. At most
 * {@code window} operations are in flight; more wait in a queue and start as others finish. Both never block and
 * may be called from any thread and any context; their stages complete on the CQ's actor. The first failed work
 * request breaks the store: every operation in flight, waiting or later fails with a {@link KvException} naming it.
 */
public final class KvStore {
  /** Reads of one GET that may find a torn slot before it gives up. */
  static final int MAX_TORN_READS = 1000;
  private static final long ID_BITS = 20;

  private final KvEndpoint ep;
  private final KvProtocol.Table table;
  private final KvLayout layout;
  private final int putMax;
  private final int readBytes;
  private final Request[] requests;
  private final RecvWr[] replies;
  private final MpmcArrayQueue<Request> free;
  private final ConcurrentLinkedQueue<Op> pending = new ConcurrentLinkedQueue<>();
  private final AtomicReference<KvException> broken = new AtomicReference<>();
  private final LongAdder gets = new LongAdder();
  private final LongAdder puts = new LongAdder();
  private final LongAdder tornReads = new LongAdder();
  private final Recorder getLatency = new Recorder(3);
  private final Recorder putLatency = new Recorder(3);

  private sealed interface Op permits Get, Put {
    byte[] key();

    long startNanos();
  }

  private record Get(byte[] key, CompletableFuture<Optional<byte[]>> result, long startNanos) implements Op {}

  private record Put(byte[] key, byte[] value, CompletableFuture<Void> result, long startNanos) implements Op {}

  /** One operation's buffers: its PUT message and its READ copy. Owned by one operation at a time. */
  private final class Request {
    final int index;
    final int putAt;
    final int readAt;
    final Cqe readDone = (cq, wc) -> onRead(this, wc);
    final Cqe putSent = (cq, wc) -> onPutSent(this, wc);
    volatile Op op;
    long reqId;
    int torn;
    int window;
    int waiting;
    int status;
    long generation;

    Request(int index, int putAt, int readAt) {
      this.index = index;
      this.putAt = putAt;
      this.readAt = readAt;
    }
  }

  /** The buffer a store of {@code window} needs for {@code layout}. */
  static int bufferBytes(KvLayout layout, int window) {
    return window * (KvProtocol.putMax(layout) + KvLayout.PROBE * layout.slotSize() + KvProtocol.REPLY);
  }

  KvStore(KvEndpoint ep, KvProtocol.Table table, int window) {
    this.ep = ep;
    this.table = table;
    this.layout = table.layout();
    this.putMax = KvProtocol.putMax(layout);
    this.readBytes = KvLayout.PROBE * layout.slotSize();
    this.requests = new Request[window];
    this.free = new MpmcArrayQueue<>(Math.max(2, window));
    for (int i = 0; i < window; i++) {
      requests[i] = new Request(i, i * (putMax + readBytes), i * (putMax + readBytes) + putMax);
      free.offer(requests[i]);
    }
    int repliesAt = window * (putMax + readBytes);
    this.replies = new RecvWr[window];
    for (int k = 0; k < window; k++) {
      int i = k;
      replies[k] = RecvWr.of((cq, wc) -> onReply(i, wc), Sge.of(ep.mr, repliesAt + (long) k * KvProtocol.REPLY,
          KvProtocol.REPLY));
    }
  }

  /** Posts the receives for the PUT replies; the QP is in INIT. */
  void postReceives() {
    for (RecvWr r : replies) {
      ep.qp.postRecv(r);
    }
  }

  /** The table's shape, as the server sent it. */
  public KvLayout layout() {
    return layout;
  }

  /**
   * The value of {@code key}, or empty: one RDMA READ, no server CPU. <b>Never blocks; any thread and any
   * context.</b>
   *
   * @throws IllegalArgumentException if the key is empty or longer than {@link KvLayout#KEY_MAX}
   */
  public CompletionStage<Optional<byte[]>> get(byte[] key) {
    layout.check(key, null);
    CompletableFuture<Optional<byte[]>> result = new CompletableFuture<>();
    submit(new Get(key.clone(), result, System.nanoTime()));
    return result;
  }

  /**
   * Stores {@code value} under {@code key}. <b>Never blocks; any thread and any context.</b> The stage fails with
   * {@link KvException} if the key's probe window has no free slot (the table is full there).
   *
   * @throws IllegalArgumentException if the key or the value is too long, naming which
   */
  public CompletionStage<Void> put(byte[] key, byte[] value) {
    layout.check(key, value);
    CompletableFuture<Void> result = new CompletableFuture<>();
    submit(new Put(key.clone(), value.clone(), result, System.nanoTime()));
    return result;
  }

  /** GETs answered. Never blocks. */
  public long gets() {
    return gets.sum();
  }

  /** PUTs answered. Never blocks. */
  public long puts() {
    return puts.sum();
  }

  /** READs that found a slot torn by a concurrent PUT and were made again. Never blocks. */
  public long tornReads() {
    return tornReads.sum();
  }

  /** GET latencies (ns) since the last call. Never blocks (wait-free recorder); any thread. */
  public Histogram takeGetLatency() {
    return getLatency.getIntervalHistogram();
  }

  /** PUT latencies (ns) since the last call. Never blocks; any thread. */
  public Histogram takePutLatency() {
    return putLatency.getIntervalHistogram();
  }

  private void submit(Op op) {
    pending.add(op);
    startWaiting();
  }

  /** Starts waiting operations while requests are free; fails them once broken (see FetchInitiator). */
  private void startWaiting() {
    while (pending.peek() != null) {
      KvException failure = broken.get();
      if (failure != null) {
        for (Op op; (op = pending.poll()) != null; ) {
          failOp(op, failure);
        }
        return;
      }
      Request r = free.poll();
      if (r == null) {
        return;
      }
      Op op = pending.poll();
      if (op == null) {
        free.offer(r);
        continue;
      }
      start(r, op);
    }
  }

  private void start(Request r, Op op) {
    r.generation++;
    r.reqId = (r.generation << ID_BITS) | r.index;
    r.op = op;
    try {
      if (op instanceof Get) {
        r.torn = 0;
        r.window = 0;
        postRead(r, (Get) op);
      } else {
        Put p = (Put) op;
        r.waiting = 2; // the SEND's completion and the server's reply
        ep.mr.buffer().putLong(r.putAt, r.reqId).putShort(r.putAt + 8, (short) p.key().length)
            .putShort(r.putAt + 10, (short) p.value().length).put(r.putAt + KvProtocol.PUT_HEADER, p.key())
            .put(r.putAt + KvProtocol.PUT_HEADER + p.key().length, p.value());
        ep.qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(r.reqId).cqe(r.putSent).flags(SendFlags.SIGNALED)
            .sge(Sge.of(ep.mr, r.putAt, KvProtocol.PUT_HEADER + p.key().length + p.value().length)).build());
      }
    } catch (PostException e) {
      fail(new KvException("cannot post on " + ep.device.name() + ": " + e.getMessage(), e));
    }
  }

  private void postRead(Request r, Get g) {
    long remote = table.iova() + (long) layout.probeStart(g.key(), r.window) * layout.slotSize();
    ep.qp.postSend(SendWr.builder(WrOpcode.RDMA_READ).wrId(r.reqId).cqe(r.readDone).flags(SendFlags.SIGNALED)
        .sge(Sge.of(ep.mr, r.readAt, readBytes)).remote(remote, table.rkey()).build());
  }

  private void onRead(Request r, WorkCompletion wc) {
    if (!(r.op instanceof Get g)) {
      return; // failed already
    }
    if (!wc.ok()) {
      fail(new KvException("the RDMA READ of a GET on " + ep.device.name() + " completed with " + wc.status()));
      return;
    }
    byte[] value = layout.find(ep.mr.buffer(), r.readAt, g.key());
    if (value == KvLayout.TORN_MARK) {
      tornReads.increment();
      if (++r.torn > MAX_TORN_READS) {
        g.result().completeExceptionally(new KvException("a GET found its slot torn " + MAX_TORN_READS
            + " times in a row"));
        release(r);
        return;
      }
      try {
        postRead(r, g);
      } catch (PostException e) {
        fail(new KvException("cannot post a READ on " + ep.device.name() + ": " + e.getMessage(), e));
      }
      return;
    }
    if (value == null && r.window + 1 < KvLayout.WINDOWS) {
      r.window++; // not in the first window: the second
      try {
        postRead(r, g);
      } catch (PostException e) {
        fail(new KvException("cannot post a READ on " + ep.device.name() + ": " + e.getMessage(), e));
      }
      return;
    }
    gets.increment();
    getLatency.recordValue(System.nanoTime() - g.startNanos());
    g.result().complete(Optional.ofNullable(value));
    release(r);
  }

  private void onPutSent(Request r, WorkCompletion wc) {
    if (!(r.op instanceof Put)) {
      return;
    }
    if (!wc.ok()) {
      fail(new KvException("the SEND of a PUT on " + ep.device.name() + " completed with " + wc.status()));
    } else if (--r.waiting == 0) {
      finishPut(r);
    }
  }

  private void onReply(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      fail(new KvException("a PUT reply's receive on " + ep.device.name() + " completed with " + wc.status()));
      return;
    }
    ByteBuffer b = ep.mr.buffer();
    int at = requests.length * (putMax + readBytes) + k * KvProtocol.REPLY;
    long reqId = b.getLong(at);
    int status = b.getInt(at + 8);
    try {
      ep.qp.postRecv(replies[k]); // read: the buffer may take the next reply
    } catch (PostException e) {
      fail(new KvException("cannot post a receive on " + ep.device.name() + ": " + e.getMessage(), e));
      return;
    }
    Request r = requests[(int) (reqId & ((1 << ID_BITS) - 1)) % requests.length];
    if (!(r.op instanceof Put) || r.reqId != reqId) {
      fail(new KvException("a PUT reply (id " + reqId + ") matches no PUT in flight"));
      return;
    }
    r.status = status;
    if (--r.waiting == 0) {
      finishPut(r);
    }
  }

  private void finishPut(Request r) {
    Put p = (Put) r.op;
    switch (r.status) {
      case KvProtocol.STORED -> {
        puts.increment();
        putLatency.recordValue(System.nanoTime() - p.startNanos());
        p.result().complete(null);
      }
      case KvProtocol.FULL -> p.result().completeExceptionally(new KvException("no free slot for the key in its two "
          + KvLayout.PROBE + "-slot windows: the table of " + layout.slots() + " slots is full there"));
      default -> p.result().completeExceptionally(new KvException("the server refused the PUT (status "
          + r.status + ")"));
    }
    release(r);
  }

  private void release(Request r) {
    r.op = null;
    free.offer(r);
    startWaiting();
  }

  /** Breaks the store (the first failure wins): everything in flight, waiting or later fails with it. */
  private void fail(KvException failure) {
    broken.compareAndSet(null, failure);
    KvException first = broken.get();
    for (Request r : requests) {
      Op op = r.op;
      if (op != null) {
        r.op = null;
        failOp(op, first);
      }
    }
    startWaiting();
  }

  private static void failOp(Op op, KvException e) {
    if (op instanceof Get g) {
      g.result().completeExceptionally(e);
    } else {
      ((Put) op).result().completeExceptionally(e);
    }
  }

  /** Fails what is in flight or waiting: the store is closing. Never blocks. */
  void close(String why) {
    fail(new KvException("the store on " + ep.device.name() + " is closed: " + why));
  }
}
