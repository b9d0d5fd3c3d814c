package dev.midlayer.ulp.pingpong;

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
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's side of one connection: {@link #RECEIVES} buffers, each with a receive posted. A message that
 * arrives in buffer k goes back as a SEND from buffer k, and buffer k takes a receive again only once that SEND
 * completed, so an echo is never overwritten while it is on its way.
 *
 * <p>Threading: the callbacks run one at a time (the CQ's actor or the busy poller) and never block.
 */
final class Pong {
  private static final Logger log = LoggerFactory.getLogger(Pong.class);
  /** Receives posted per connection: a client has one ping outstanding, so a few cover the echoes' ACKs too. */
  static final int RECEIVES = 4;

  final PingPongEndpoint ep;
  private final int size;
  private final LongAdder echoes;
  private final RecvWr[] receives = new RecvWr[RECEIVES];
  private final Cqe[] echoed = new Cqe[RECEIVES];
  /** The CM connection once accepted; written by the set-up thread, read by whoever closes. */
  volatile CmConnection connection;
  private boolean reportedError;

  /** A connection's echo loop on {@code ep}, whose buffer holds {@link #RECEIVES} messages of {@code size}. */
  Pong(PingPongEndpoint ep, int size, LongAdder echoes) {
    this.ep = ep;
    this.size = size;
    this.echoes = echoes;
    for (int k = 0; k < RECEIVES; k++) {
      int buffer = k;
      receives[k] = RecvWr.of((cq, wc) -> onReceive(buffer, wc), Sge.of(ep.mr, (long) k * size, size));
      echoed[k] = (cq, wc) -> onEchoed(buffer, wc);
    }
  }

  /** Posts every receive; the QP is in INIT or later. Never blocks. */
  void postReceives() {
    for (RecvWr r : receives) {
      ep.qp.postRecv(r);
    }
  }

  private void onReceive(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      noteError("a receive", wc);
      return;
    }
    try {
      ep.qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(k).cqe(echoed[k]).flags(SendFlags.SIGNALED)
          .sge(Sge.of(ep.mr, (long) k * size, wc.byteLen())).build());
    } catch (PostException e) {
      noteError("the echo from buffer " + k + ": " + e.getMessage());
    }
  }

  private void onEchoed(int k, WorkCompletion wc) {
    if (!wc.ok()) {
      noteError("an echo", wc);
      return;
    }
    echoes.increment();
    try {
      ep.qp.postRecv(receives[k]);
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
      log.warn("pingpong server, QP {} on {}: {}", ep.qp.qpNum(), ep.device.name(), what);
    }
  }
}
