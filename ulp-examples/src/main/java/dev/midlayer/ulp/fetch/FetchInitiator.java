package dev.midlayer.ulp.fetch;

import dev.midlayer.cq.Cqe;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The asking side of the fetch protocol. {@link #fetch} takes a free slot (a fast-registration region
 * over {@code pagesPerSlot} pages of a page pool), gives the region a new key, maps its pages, and posts a
 * REG_MR chained before the request SEND that carries the key and iova. The target writes the bytes and
 * answers with SEND_WITH_INV: the region is FREE again when the answer's receive completes. If the answer
 * came without the invalidation (the target refused the range), the slot posts its own LOCAL_INV. A slot
 * is reused only after both its answer and its request SEND's completion came back, so a late completion
 * never lands on the next request.
 *
 * <p>Requests beyond the free slots wait in a queue and start as slots come back. Any error (a failed
 * work request, an answer that matches no request in flight) breaks the initiator: every request in
 * flight or waiting, and every later one, fails with a {@link FetchException} naming the first error.
 * {@link #fetch} never blocks and may be called from any thread, completion callbacks included; the
 * futures complete on the CQ's actor.
 */
public final class FetchInitiator extends FetchEndpoint {
  private static final Logger log = LoggerFactory.getLogger(FetchInitiator.class);
  private static final int ACCESS = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE;

  private final int pagesPerSlot;
  private final MemoryRegion pool;
  private final MemoryRegion requests;
  private final MemoryRegion responses;
  private final Slot[] slots;
  private final RecvWr[] receives;
  private final ConcurrentLinkedQueue<Slot> free = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
  private final AtomicReference<FetchException> broken = new AtomicReference<>();
  private final AtomicLong invalidatedByTarget = new AtomicLong();

  private record Pending(long offset, int length, CompletableFuture<byte[]> result) {}

  /** One request's resources: its region, its pages, its request buffer. Owned by one request at a time. */
  private final class Slot {
    final int index;
    final MemoryRegion region;
    final List<Page> pages;
    final long iova;
    /** The REG_MR (unsignaled: completes only on an error) and the request SEND (signaled). */
    final Cqe sent = (cq, wc) -> onSent(this, wc);
    final Cqe localInvalidated = (cq, wc) -> onLocalInvalidate(this, wc);
    int key8;
    // Written by the thread that starts the request before it posts; read on the CQ actor after a
    // completion of that post (the post and the completion order the two).
    int key;
    int length;
    /** Completions still to come for this use: the request SEND's and the answer. CQ actor. */
    int waiting;
    boolean invalidated;
    volatile CompletableFuture<byte[]> result;

    Slot(int index, MemoryRegion region, List<Page> pages) {
      this.index = index;
      this.region = region;
      this.pages = pages;
      this.iova = (long) (index + 1) << 32; // any address will do: the target only ever sees it with the key
    }
  }

  /**
   * Sets up on {@code device}: {@code depth} slots of {@code pagesPerSlot} pages each (so a fetch is at most
   * {@code pagesPerSlot * Page.SIZE} bytes). <b>May sleep.</b> Call {@link #connect} next.
   *
   * @throws IllegalArgumentException if the page pool would exceed 2 GiB
   */
  public FetchInitiator(Device device, int depth, int pagesPerSlot) {
    super(device, depth);
    if ((long) depth * pagesPerSlot * Page.SIZE > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(depth + " slots of " + pagesPerSlot + " pages exceed a 2 GiB pool");
    }
    this.pagesPerSlot = pagesPerSlot;
    this.pool = localBuffer(depth * pagesPerSlot * Page.SIZE); // the pages, registered once
    this.requests = localBuffer(depth * REQUEST_BYTES);
    this.responses = localBuffer(depth * RESPONSE_BYTES);
    this.slots = new Slot[depth];
    this.receives = new RecvWr[depth];
    for (int i = 0; i < depth; i++) {
      List<Page> pages = new ArrayList<>(pagesPerSlot);
      for (int p = 0; p < pagesPerSlot; p++) {
        pages.add(pool.page(i * pagesPerSlot + p));
      }
      slots[i] = new Slot(i, await(pd.allocMr(pagesPerSlot)), pages);
      free.add(slots[i]);
      int k = i;
      receives[i] = RecvWr.of((cq, wc) -> onResponse(k, wc), Sge.of(responses, (long) i * RESPONSE_BYTES,
          RESPONSE_BYTES));
    }
  }

  /** Posts every receive buffer; the QP is connected. May sleep. */
  @Override
  protected void postReceives() {
    for (RecvWr r : receives) {
      qp.postRecv(r);
    }
  }

  /** The largest fetch: the pages of one slot. */
  public int maxLength() {
    return pagesPerSlot * Page.SIZE;
  }

  /** How many answers came with the target's invalidation of the slot's key (no LOCAL_INV needed). */
  public long invalidatedByTarget() {
    return invalidatedByTarget.get();
  }

  /**
   * Fetches {@code length} bytes of the target's store from {@code offset}. <b>Never blocks; any thread and
   * any context.</b>
   *
   * @return the bytes; fails with {@link FetchException} if the target refused the range, or the
   *     initiator is broken or closed
   * @throws IllegalArgumentException if {@code length} is not 1 to {@link #maxLength()}
   */
  public CompletionStage<byte[]> fetch(long offset, int length) {
    if (length < 1 || length > maxLength()) {
      throw new IllegalArgumentException("length " + length + " is not 1.." + maxLength());
    }
    CompletableFuture<byte[]> result = new CompletableFuture<>();
    pending.add(new Pending(offset, length, result));
    startWaiting();
    return result;
  }

  /**
   * Starts waiting requests while slots are free, or fails them once broken. Everyone who adds a request,
   * frees a slot or breaks the initiator calls it afterwards, and it looks at the queues after that, so
   * no request waits while a slot is free and none outlives a failure.
   */
  private void startWaiting() {
    while (pending.peek() != null) {
      FetchException failure = broken.get();
      if (failure != null) {
        for (Pending p; (p = pending.poll()) != null; ) {
          p.result().completeExceptionally(failure);
        }
        return;
      }
      Slot slot = free.poll();
      if (slot == null) {
        return;
      }
      Pending p = pending.poll();
      if (p == null) {
        free.add(slot);
        continue;
      }
      start(slot, p);
    }
  }

  private void start(Slot slot, Pending p) {
    slot.result = p.result();
    slot.length = p.length();
    slot.waiting = 2;
    slot.invalidated = false;
    // A new key for every use: a key handed to the target before stops working once this REG_MR runs.
    slot.key = slot.region.updateFastRegKey(++slot.key8);
    slot.region.mapPages(slot.pages, slot.iova, p.length());
    int at = slot.index * REQUEST_BYTES;
    requests.buffer().putLong(at, slot.index).putLong(at + 8, p.offset()).putLong(at + 16, slot.iova)
        .putInt(at + 24, p.length()).putInt(at + 28, slot.key);
    try {
      qp.postSend(List.of(
          SendWr.builder(WrOpcode.REG_MR).wrId(slot.index).cqe(slot.sent).reg(slot.region, slot.key, ACCESS).build(),
          SendWr.builder(WrOpcode.SEND).wrId(slot.index).cqe(slot.sent).flags(SendFlags.SIGNALED)
              .sge(Sge.of(requests, at, REQUEST_BYTES)).build()));
    } catch (PostException e) {
      fail(new FetchException("cannot post request " + slot.index + ": " + e.getMessage(), e));
    }
  }

  /** The request SEND completed, or its REG_MR failed. CQ actor. */
  private void onSent(Slot slot, WorkCompletion wc) {
    if (!wc.ok()) {
      fail(new FetchException(wc.opcode() + " of request " + slot.index + " failed: " + wc.status()));
    } else if (--slot.waiting == 0) {
      finish(slot);
    }
  }

  /** An answer arrived in receive buffer {@code k}. CQ actor. */
  private void onResponse(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      fail(new FetchException("the answer's receive failed: " + wc.status()));
      return;
    }
    ByteBuffer in = responses.buffer();
    int at = k * RESPONSE_BYTES;
    int id = in.getInt(at);
    int key = in.getInt(at + 4);
    int status = in.getInt(at + 8);
    Slot slot = id >= 0 && id < slots.length ? slots[id] : null;
    CompletableFuture<byte[]> result = slot == null ? null : slot.result;
    if (result == null || key != slot.key) {
      fail(new FetchException(String.format("an answer (id %d, key 0x%08x) matches no request in flight", id, key)));
      return;
    }
    postRecv(k); // the buffer is read: it may take the next answer
    slot.invalidated = (wc.wcFlags() & WcFlags.WITH_INVALIDATE) != 0 && wc.invalidatedRkey() == slot.key;
    if (slot.invalidated) {
      invalidatedByTarget.incrementAndGet();
    }
    slot.result = null;
    if (status == STATUS_OK) {
      byte[] data = new byte[slot.length];
      pool.buffer().get(slot.index * pagesPerSlot * Page.SIZE, data); // the slot's pages are contiguous in the pool
      result.complete(data);
    } else {
      result.completeExceptionally(new FetchException("the target refused the range (status " + status + ")"));
    }
    if (--slot.waiting == 0) {
      finish(slot);
    }
  }

  /** Both completions of a use are in: the slot is free once its key is dead. CQ actor. */
  private void finish(Slot slot) {
    if (slot.invalidated) {
      release(slot);
      return;
    }
    try {
      qp.postSend(SendWr.builder(WrOpcode.LOCAL_INV).wrId(slot.index).cqe(slot.localInvalidated)
          .flags(SendFlags.SIGNALED).invalidateRkey(slot.key).build());
    } catch (PostException e) {
      fail(new FetchException("cannot invalidate slot " + slot.index + ": " + e.getMessage(), e));
    }
  }

  private void onLocalInvalidate(Slot slot, WorkCompletion wc) {
    if (wc.ok()) {
      release(slot);
    } else {
      fail(new FetchException("LOCAL_INV of slot " + slot.index + " failed: " + wc.status()));
    }
  }

  private void postRecv(int k) {
    try {
      qp.postRecv(receives[k]);
    } catch (PostException e) {
      fail(new FetchException("cannot post receive " + k + ": " + e.getMessage(), e));
    }
  }

  private void release(Slot slot) {
    free.add(slot);
    startWaiting();
  }

  /** Breaks the initiator (the first failure wins): every request in flight, waiting or later fails with it. */
  private void fail(FetchException failure) {
    if (broken.compareAndSet(null, failure)) {
      log.warn("fetch initiator QP {}: {}", qp.qpNum(), failure.getMessage());
    }
    failAll();
  }

  private void failAll() {
    FetchException first = broken.get();
    for (Slot s : slots) {
      CompletableFuture<byte[]> r = s.result;
      if (r != null) {
        s.result = null;
        r.completeExceptionally(first);
      }
    }
    startWaiting();
  }

  /** Fails every request still waiting or in flight, then frees everything. May sleep. */
  @Override
  public void close() {
    broken.compareAndSet(null, new FetchException("the fetch initiator was closed"));
    failAll();
    super.close();
  }

  @Override
  protected void closeResources() {
    for (Slot s : slots) {
      await(s.region.deregister());
    }
    await(pool.deregister());
    await(requests.deregister());
    await(responses.deregister());
  }
}
