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
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.SharedReceiveQueue;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rpc server on one device: a PD, one SRQ of {@code srqDepth} request buffers that every client's QP takes
 * its requests from, and one CQ (polled by its actor) for all of them. A request's completion copies it out,
 * posts its receive to the SRQ again, calls the handler and answers INLINE on the QP the request came by (the
 * completion's QP number). {@link #open} and {@link #close} <b>may sleep</b>.
 */
final class RpcServerDevice {
  private static final Logger log = LoggerFactory.getLogger(RpcServerDevice.class);

  final Device device;
  final ProtectionDomain pd;
  final SharedReceiveQueue srq;
  final CompletionQueue cq;
  final int credits;
  final int srqDepth;
  private final MemoryRegion mr;
  private final RpcHandler handler;
  private final LongAdder calls;
  private final RecvWr[] receives;
  private final int scratch;
  /** The connected QPs by number: where to answer. */
  final Map<Integer, QueuePair> qps = new ConcurrentHashMap<>();
  private boolean reportedError;

  private RpcServerDevice(Device device, ProtectionDomain pd, SharedReceiveQueue srq, CompletionQueue cq,
      MemoryRegion mr, int srqDepth, int credits, RpcHandler handler, LongAdder calls) {
    this.device = device;
    this.pd = pd;
    this.srq = srq;
    this.cq = cq;
    this.mr = mr;
    this.srqDepth = srqDepth;
    this.credits = credits;
    this.handler = handler;
    this.calls = calls;
    this.receives = new RecvWr[srqDepth];
    int slot = RpcWire.REQUEST_HEADER + RpcServer.MAX_REQUEST;
    for (int k = 0; k < srqDepth; k++) {
      int i = k;
      receives[k] = RecvWr.of((c, wc) -> onRequest(i, wc), Sge.of(mr, (long) k * slot, slot));
    }
    this.scratch = srqDepth * slot;
  }

  /** Sets the device up and posts every receive to the SRQ. <b>May sleep</b>. */
  static RpcServerDevice open(Device device, int srqDepth, int credits, RpcHandler handler, LongAdder calls) {
    ProtectionDomain pd = await(device.allocPd(), "allocPd" + on(device));
    SharedReceiveQueue srq = await(pd.createSrq(new SrqAttr(srqDepth, 1, 0), null, null), "createSrq" + on(device));
    int connections = srqDepth / credits;
    // Every receive of the SRQ, every client's sends (a credit each) and the drains' markers.
    CompletionQueue cq = await(device.allocCq(2 * srqDepth + 2 * connections + 4, PollContext.ACTOR),
        "allocCq" + on(device));
    int bytes = srqDepth * (RpcWire.REQUEST_HEADER + RpcServer.MAX_REQUEST) + RpcWire.RESPONSE_HEADER
        + RpcServer.MAX_RESPONSE;
    MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(bytes), AccessFlags.LOCAL_WRITE),
        "registerMr" + on(device));
    RpcServerDevice d = new RpcServerDevice(device, pd, srq, cq, mr, srqDepth, credits, handler, calls);
    for (RecvWr r : d.receives) {
      srq.postRecv(r);
    }
    return d;
  }

  /** A QP for one client, in this device's PD, on its SRQ and CQ. <b>May sleep</b>. */
  QueuePair createQp() {
    QpCap cap = QpCap.builder()
        .maxSendWr(credits + 1)
        .maxRecvWr(0) // receives come from the SRQ
        .maxInlineData(RpcWire.RESPONSE_HEADER + RpcServer.MAX_RESPONSE)
        .build();
    return await(pd.createQp(QpInitAttr.builder(QpType.RC).cq(cq).cap(cap).signalAll(true).srq(srq).build()),
        "createQp" + on(device));
  }

  private void onRequest(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      return; // flushed as the device closes
    }
    ByteBuffer b = mr.buffer().duplicate();
    int at = k * (RpcWire.REQUEST_HEADER + RpcServer.MAX_REQUEST);
    int slot = b.getInt(at);
    int length = Math.min(b.getInt(at + 4), RpcServer.MAX_REQUEST);
    byte[] request = new byte[length];
    b.get(at + RpcWire.REQUEST_HEADER, request);
    try {
      srq.postRecv(receives[k]); // copied out: the receive backs the credit the response returns
    } catch (PostException e) {
      noteError("the SRQ receive " + k + ": " + e.getMessage());
    }
    QueuePair qp = qps.get(wc.qpNum());
    if (qp == null) {
      return; // the connection is being torn down
    }
    int status = RpcWire.OK;
    byte[] response;
    try {
      response = handler.handle(request);
      if (response.length > RpcServer.MAX_RESPONSE) {
        status = RpcWire.HANDLER_FAILED;
        response = ("the handler's response of " + response.length + " bytes exceeds " + RpcServer.MAX_RESPONSE)
            .getBytes(StandardCharsets.UTF_8);
      }
    } catch (RuntimeException e) {
      status = RpcWire.HANDLER_FAILED;
      byte[] why = ("the handler threw " + e).getBytes(StandardCharsets.UTF_8);
      response = Arrays.copyOf(why, Math.min(why.length, RpcServer.MAX_RESPONSE));
    }
    calls.increment();
    b.putInt(scratch, slot).putInt(scratch + 4, status).putInt(scratch + 8, response.length)
        .put(scratch + RpcWire.RESPONSE_HEADER, response);
    try {
      // INLINE: copied at the post, so the scratch buffer (this CQ's callbacks run one at a time) is free again.
      qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(slot).cqe(responded).flags(SendFlags.SIGNALED | SendFlags.INLINE)
          .sge(Sge.of(mr, scratch, RpcWire.RESPONSE_HEADER + response.length)).build());
    } catch (PostException e) {
      noteError("the response on QP " + qp.qpNum() + ": " + e.getMessage());
    }
  }

  private final Cqe responded = (c, wc) -> {
    if (!wc.ok() && wc.status() != WcStatus.WR_FLUSH_ERR) {
      noteError("a response completed with " + wc.status());
    }
  };

  private void noteError(String what) {
    if (!reportedError) {
      reportedError = true;
      log.warn("rpc server on {}: {}", device.name(), what);
    }
  }

  /** After every QP is gone: destroys the SRQ (its receives with it), the CQ, the buffer and the PD. */
  void close() {
    await(srq.destroy(), "destroy of the SRQ" + on(device));
    await(cq.destroy(), "destroy of the CQ" + on(device));
    await(mr.deregister(), "deregister" + on(device));
    await(pd.dealloc(), "dealloc of the PD" + on(device));
  }
}
