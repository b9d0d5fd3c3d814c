package dev.midlayer.ulp.rpc;

import static dev.midlayer.ulp.rpc.RpcWire.await;
import static dev.midlayer.ulp.rpc.RpcWire.on;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.Cqe;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.jctools.queues.MpmcArrayQueue;

/**
 * A client's connection to an rpc server: {@link #call} sends a request and completes with the response. A call
 * holds one of the server's credits from its SEND until its response; beyond the credits, calls wait in a queue,
 * so the server's SRQ always has a receive for a request. {@link #call} never blocks and may be called from any
 * thread and any context; its stage completes on the CQ's actor. The first failed work request breaks the
 * channel: every call in flight, waiting or later fails with an {@link RpcException} naming it.
 */
public final class RpcChannel {
  private final Device device;
  private final ProtectionDomain pd;
  private final CompletionQueue cq;
  private final QueuePair qp;
  private MemoryRegion mr;
  private Slot[] slots;
  private RecvWr[] receives;
  private MpmcArrayQueue<Slot> free;
  private int credits;
  private final ConcurrentLinkedQueue<Call> pending = new ConcurrentLinkedQueue<>();
  private final AtomicReference<RpcException> broken = new AtomicReference<>();
  private final LongAdder calls = new LongAdder();
  private final Recorder latency = new Recorder(3);

  private record Call(byte[] request, CompletableFuture<byte[]> result, long startNanos) {}

  /** A credit: one call's request buffer, held from the SEND until the response. */
  private final class Slot {
    final int index;
    final int at;
    final Cqe sent = (c, wc) -> onSent(this, wc);
    volatile Call call;
    int waiting;
    int status;
    byte[] response;

    Slot(int index, int at) {
      this.index = index;
      this.at = at;
    }
  }

  private static final int REQUEST_SLOT = RpcWire.REQUEST_HEADER + RpcServer.MAX_REQUEST;
  private static final int RESPONSE_SLOT = RpcWire.RESPONSE_HEADER + RpcServer.MAX_RESPONSE;

  /** The QP and CQ for up to {@code maxCredits} credits; the buffers come with {@link #granted}. May sleep. */
  RpcChannel(Device device, ProtectionDomain pd, int maxCredits) {
    this.device = device;
    this.pd = pd;
    this.cq = await(device.allocCq(2 * maxCredits + 4, PollContext.ACTOR), "allocCq" + on(device));
    QueuePair made;
    try {
      made = await(pd.createQp(QpInitAttr.builder(QpType.RC).cq(cq)
          .cap(QpCap.builder().maxSendWr(maxCredits + 1).maxRecvWr(maxCredits + 1).build())
          .signalAll(true)
          .build()), "createQp" + on(device));
    } catch (RpcException e) {
      await(cq.destroy(), "destroy of the CQ" + on(device));
      throw e;
    }
    this.qp = made;
  }

  QueuePair qp() {
    return qp;
  }

  /**
   * The server granted {@code n} credits (the REP): registers the buffers and posts a receive per credit, before
   * any call can go out. May sleep.
   */
  void granted(int n) {
    credits = n;
    mr = await(pd.registerMr(ByteBuffer.allocateDirect(n * (REQUEST_SLOT + RESPONSE_SLOT)), AccessFlags.LOCAL_WRITE),
        "registerMr" + on(device));
    slots = new Slot[n];
    free = new MpmcArrayQueue<>(Math.max(2, n));
    receives = new RecvWr[n];
    for (int i = 0; i < n; i++) {
      slots[i] = new Slot(i, i * REQUEST_SLOT);
      free.offer(slots[i]);
      int k = i;
      receives[i] = RecvWr.of((c, wc) -> onResponse(k, wc), Sge.of(mr, n * REQUEST_SLOT + (long) i * RESPONSE_SLOT,
          RESPONSE_SLOT));
      qp.postRecv(receives[i]);
    }
  }

  /** The server's credits for this client: calls in flight at most. */
  public int credits() {
    return credits;
  }

  /**
   * Calls the server with {@code request}. <b>Never blocks; any thread and any context.</b>
   *
   * @return the response; fails with {@link RpcException} if the server's handler failed or the channel broke
   * @throws IllegalArgumentException if the request is longer than {@link RpcServer#MAX_REQUEST}
   */
  public CompletionStage<byte[]> call(byte[] request) {
    if (request.length > RpcServer.MAX_REQUEST) {
      throw new IllegalArgumentException("a request must be at most " + RpcServer.MAX_REQUEST + " bytes, was "
          + request.length);
    }
    CompletableFuture<byte[]> result = new CompletableFuture<>();
    pending.add(new Call(request.clone(), result, System.nanoTime()));
    startWaiting();
    return result;
  }

  /** Calls answered. Never blocks. */
  public long calls() {
    return calls.sum();
  }

  /** Call latencies (ns) since the last call of this method. Never blocks (a wait-free recorder). */
  public Histogram takeLatency() {
    return latency.getIntervalHistogram();
  }

  private void startWaiting() {
    while (pending.peek() != null) {
      RpcException failure = broken.get();
      if (failure != null) {
        for (Call c; (c = pending.poll()) != null; ) {
          c.result().completeExceptionally(failure);
        }
        return;
      }
      Slot s = free.poll();
      if (s == null) {
        return;
      }
      Call c = pending.poll();
      if (c == null) {
        free.offer(s);
        continue;
      }
      start(s, c);
    }
  }

  private void start(Slot s, Call c) {
    s.call = c;
    s.waiting = 2; // the SEND's completion and the response
    mr.buffer().putInt(s.at, s.index).putInt(s.at + 4, c.request().length).put(s.at + RpcWire.REQUEST_HEADER,
        c.request());
    try {
      qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(s.index).cqe(s.sent).flags(SendFlags.SIGNALED)
          .sge(Sge.of(mr, s.at, RpcWire.REQUEST_HEADER + c.request().length)).build());
    } catch (PostException e) {
      fail(new RpcException("cannot post a request" + on(device) + ": " + e.getMessage(), e));
    }
  }

  private void onSent(Slot s, WorkCompletion wc) {
    if (s.call == null) {
      return;
    }
    if (!wc.ok()) {
      fail(new RpcException("a request's SEND" + on(device) + " completed with " + wc.status()));
    } else if (--s.waiting == 0) {
      finish(s);
    }
  }

  private void onResponse(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      fail(new RpcException("a response's receive" + on(device) + " completed with " + wc.status()));
      return;
    }
    ByteBuffer b = mr.buffer().duplicate();
    int at = credits * REQUEST_SLOT + k * RESPONSE_SLOT;
    int index = b.getInt(at);
    int status = b.getInt(at + 4);
    int length = Math.min(b.getInt(at + 8), RpcServer.MAX_RESPONSE);
    byte[] response = new byte[length];
    b.get(at + RpcWire.RESPONSE_HEADER, response);
    try {
      qp.postRecv(receives[k]);
    } catch (PostException e) {
      fail(new RpcException("cannot post a receive" + on(device) + ": " + e.getMessage(), e));
      return;
    }
    Slot s = index >= 0 && index < slots.length ? slots[index] : null;
    if (s == null || s.call == null) {
      fail(new RpcException("a response for slot " + index + " matches no call in flight"));
      return;
    }
    s.status = status;
    s.response = response;
    if (--s.waiting == 0) {
      finish(s);
    }
  }

  private void finish(Slot s) {
    Call c = s.call;
    s.call = null;
    if (s.status == RpcWire.OK) {
      calls.increment();
      latency.recordValue(System.nanoTime() - c.startNanos());
      c.result().complete(s.response);
    } else {
      c.result().completeExceptionally(new RpcException("the server's handler failed: "
          + new String(s.response, StandardCharsets.UTF_8)));
    }
    free.offer(s);
    startWaiting();
  }

  private void fail(RpcException failure) {
    broken.compareAndSet(null, failure);
    RpcException first = broken.get();
    if (slots != null) {
      for (Slot s : slots) {
        Call c = s.call;
        if (c != null) {
          s.call = null;
          c.result().completeExceptionally(first);
        }
      }
    }
    startWaiting();
  }

  /** Fails what is in flight or waiting, and every later call, with {@code why}. Never blocks. */
  void abort(String why) {
    fail(new RpcException("the channel" + on(device) + " is closed: " + why));
  }

  /** {@link #abort}s, then drains and destroys. <b>May sleep</b>. */
  void close(String why) {
    abort(why);
    try {
      await(qp.drainQp(), "drainQp of QP " + qp.qpNum());
    } catch (RpcException e) {
      // never out of RESET: nothing to drain
    }
    await(qp.destroy(), "destroy of QP " + qp.qpNum());
    await(cq.destroy(), "destroy of the CQ" + on(device));
    if (mr != null) {
      await(mr.deregister(), "deregister" + on(device));
    }
  }
}
