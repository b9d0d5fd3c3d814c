package dev.midlayer.ulp.kv;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's side of one client: receives for its PUTs, each applied to the table from the completion callback
 * and answered with a SEND from the reply buffer of the same index; a receive is posted again once its reply's
 * SEND completed. GETs never reach it: they are the client's RDMA READs of the table.
 */
final class KvServerConnection {
  private static final Logger log = LoggerFactory.getLogger(KvServerConnection.class);

  final KvEndpoint ep;
  private final KvTable table;
  private final KvLayout layout;
  private final LongAdder puts;
  private final int receives;
  private final int putMax;
  private final RecvWr[] recvs;
  private final Cqe[] replied;
  volatile CmConnection connection;
  private boolean reportedError;

  /** {@code receives} PUTs in flight at most (twice the client's window: a receive is free again a bit late). */
  KvServerConnection(KvEndpoint ep, KvTable table, KvLayout layout, int receives, LongAdder puts) {
    this.ep = ep;
    this.table = table;
    this.layout = layout;
    this.receives = receives;
    this.puts = puts;
    this.putMax = KvProtocol.putMax(layout);
    this.recvs = new RecvWr[receives];
    this.replied = new Cqe[receives];
    for (int k = 0; k < receives; k++) {
      int i = k;
      recvs[k] = RecvWr.of((cq, wc) -> onPut(i, wc), Sge.of(ep.mr, (long) k * putMax, putMax));
      replied[k] = (cq, wc) -> onReplied(i, wc);
    }
  }

  /** The buffer it needs: the PUTs, then the replies. */
  static int bufferBytes(KvLayout layout, int receives) {
    return receives * (KvProtocol.putMax(layout) + KvProtocol.REPLY);
  }

  void postReceives() {
    for (RecvWr r : recvs) {
      ep.qp.postRecv(r);
    }
  }

  private void onPut(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      noteError("a PUT's receive", wc);
      return;
    }
    ByteBuffer b = ep.mr.buffer().duplicate();
    int at = k * putMax;
    long reqId = b.getLong(at);
    int keyLen = b.getShort(at + 8) & 0xFFFF;
    int valueLen = b.getShort(at + 10) & 0xFFFF;
    int status;
    if (keyLen < 1 || keyLen > KvLayout.KEY_MAX || valueLen > layout.valueMax()
        || KvProtocol.PUT_HEADER + keyLen + valueLen != wc.byteLen()) {
      status = KvProtocol.BAD;
    } else {
      byte[] key = new byte[keyLen];
      byte[] value = new byte[valueLen];
      b.get(at + KvProtocol.PUT_HEADER, key).get(at + KvProtocol.PUT_HEADER + keyLen, value);
      status = table.put(key, value) == KvTable.Put.STORED ? KvProtocol.STORED : KvProtocol.FULL;
      puts.increment();
    }
    int reply = receives * putMax + k * KvProtocol.REPLY;
    b.putLong(reply, reqId).putInt(reply + 8, status);
    try {
      ep.qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(k).cqe(replied[k]).flags(SendFlags.SIGNALED)
          .sge(Sge.of(ep.mr, reply, KvProtocol.REPLY)).build());
    } catch (PostException e) {
      noteError("the reply to PUT " + reqId + ": " + e.getMessage());
    }
  }

  private void onReplied(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      noteError("a reply", wc);
      return;
    }
    try {
      ep.qp.postRecv(recvs[k]);
    } catch (PostException e) {
      noteError("the receive of buffer " + k + ": " + e.getMessage());
    }
  }

  private void noteError(String what, WorkCompletion wc) {
    if (wc.status() != WcStatus.WR_FLUSH_ERR) { // flushes are how a connection ends
      noteError(what + " completed with " + wc.status());
    }
  }

  private void noteError(String what) {
    if (!reportedError) {
      reportedError = true;
      log.warn("kv server, QP {} on {}: {}", ep.qp.qpNum(), ep.device.name(), what);
    }
  }
}
