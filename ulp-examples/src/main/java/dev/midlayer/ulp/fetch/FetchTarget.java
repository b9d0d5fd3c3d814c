package dev.midlayer.ulp.fetch;

import dev.midlayer.cq.Cqe;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving side of the fetch protocol: it holds a store of bytes, and for every request writes the
 * range asked for into the initiator's fast-registered pages (RDMA WRITE to the request's key and iova),
 * then answers with a SEND_WITH_INV of that key. A range outside the store gets a plain SEND with an
 * error status (nothing written, nothing invalidated).
 *
 * <p>Receive buffer {@code k} holds one request. It is posted again as soon as the request is read, before
 * the answer is posted, so the initiator, which sends its next request only after an answer, never finds
 * the target without a receive (no RNR NAK and retry). The 16-byte answer is sent INLINE, so its buffer is
 * copied at post and free again at once. All of it runs in the CQ actor's callbacks (non-sleeping verbs
 * only).
 *
 * <p>Threading: as {@link FetchEndpoint}, the constructor, the set-up and {@link #close()} may sleep: call them
 * from a client's {@code add}/{@code remove} or a plain thread, never from a callback.
 */
public final class FetchTarget extends FetchEndpoint {
  private static final Logger log = LoggerFactory.getLogger(FetchTarget.class);

  private final int depth;
  private final MemoryRegion store;
  private final MemoryRegion requests;
  private final MemoryRegion responses;
  private final RecvWr[] receives;
  private final Cqe[] responseSent;
  private final Cqe writeFailed;

  /**
   * Sets up on {@code device}, serving the bytes of {@code storeBytes} (registered, not copied) to up to
   * {@code depth} outstanding requests. <b>May sleep.</b> Call {@link #connect} next.
   */
  public FetchTarget(Device device, ByteBuffer storeBytes, int depth) {
    super(device, depth);
    this.depth = depth;
    this.store = await(pd.registerMr(storeBytes, AccessFlags.LOCAL_WRITE)); // the RDMA WRITE's source: local read
    this.requests = localBuffer(depth * REQUEST_BYTES);
    this.responses = localBuffer(depth * RESPONSE_BYTES);
    this.receives = new RecvWr[depth];
    this.responseSent = new Cqe[depth];
    for (int k = 0; k < depth; k++) {
      int slot = k;
      receives[k] = RecvWr.of((cq, wc) -> onRequest(slot, wc), Sge.of(requests, (long) k * REQUEST_BYTES, REQUEST_BYTES));
      responseSent[k] = (cq, wc) -> onResponseSent(slot, wc);
    }
    this.writeFailed = (cq, wc) -> logFailure("RDMA WRITE of request " + wc.wrId(), wc);
  }

  /** Posts every receive buffer; the QP is connected. May sleep. */
  @Override
  protected void postReceives() {
    for (RecvWr r : receives) {
      qp.postRecv(r);
    }
  }

  /** A request arrived in receive buffer {@code k}: write the range, then answer and invalidate. CQ actor. */
  private void onRequest(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      logFailure("request receive", wc);
      return;
    }
    ByteBuffer in = requests.buffer();
    int at = k * REQUEST_BYTES;
    long id = in.getLong(at);
    long offset = in.getLong(at + 8);
    long iova = in.getLong(at + 16);
    int length = in.getInt(at + 24);
    int rkey = in.getInt(at + 28);
    boolean inRange = length >= 1 && offset >= 0 && offset <= store.length() - length;
    try {
      qp.postRecv(receives[k]); // the request is read: the buffer may take the next one
    } catch (PostException e) {
      log.warn("fetch target QP {}: cannot repost receive {}: {}", qp.qpNum(), k, e.getMessage());
    }
    int out = k * RESPONSE_BYTES;
    // The key goes back too: the initiator matches the answer against the request it has in flight.
    responses.buffer().putInt(out, (int) id).putInt(out + 4, rkey)
        .putInt(out + 8, inRange ? STATUS_OK : STATUS_OUT_OF_RANGE).putInt(out + 12, length);
    Sge response = Sge.of(responses, out, RESPONSE_BYTES);
    try {
      if (inRange) {
        // Same QP, in order: the data is in the initiator's memory before the response's receive completes.
        qp.postSend(List.of(
            SendWr.builder(WrOpcode.RDMA_WRITE).wrId(id).cqe(writeFailed).sge(Sge.of(store, offset, length))
                .remote(iova, rkey).build(),
            SendWr.builder(WrOpcode.SEND_WITH_INV).wrId(id).cqe(responseSent[k])
                .flags(SendFlags.SIGNALED | SendFlags.INLINE).invalidateRkey(rkey).sge(response).build()));
      } else {
        qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(id).cqe(responseSent[k])
            .flags(SendFlags.SIGNALED | SendFlags.INLINE).sge(response).build());
      }
    } catch (PostException e) {
      log.warn("fetch target QP {}: cannot answer request {}: {}", qp.qpNum(), id, e.getMessage());
    }
  }

  /** Response {@code k} has gone (its buffer was free already: it was sent INLINE). CQ actor. */
  private void onResponseSent(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      logFailure("response send", wc);
    }
  }

  private void logFailure(String what, WorkCompletion wc) {
    if (wc.status() == WcStatus.WR_FLUSH_ERR) {
      log.debug("fetch target QP {}: {} flushed", qp.qpNum(), what);
    } else {
      log.warn("fetch target QP {}: {} failed: {}", qp.qpNum(), what, wc.status());
    }
  }

  /** How many requests it can hold at once. Never blocks; any thread. */
  public int depth() {
    return depth;
  }

  @Override
  protected void closeResources() {
    await(store.deregister());
    await(requests.deregister());
    await(responses.deregister());
  }
}
