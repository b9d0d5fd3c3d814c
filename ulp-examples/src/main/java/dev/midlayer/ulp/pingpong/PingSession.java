package dev.midlayer.ulp.pingpong;

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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;

/**
 * The client's side of one connection: one ping at a time. Each round trip posts a receive for the echo, then
 * the SEND of the ping (its first 8 bytes the iteration number); when both have completed and the echo carried
 * the same number, the next round trip starts, from the completion callback. The loop ends when the iterations
 * are done or the time is up, or with the first completion in error: the QP was flushed (the client's remove or
 * the server's side tore the connection down) or a work request failed.
 *
 * <p>Threading: {@link #start} runs once, on the thread that connected; after that the callbacks run one at a time
 * (the CQ's actor, or the busy poller), each ordered after the post that led to it, so the ping loop's fields need
 * no synchronisation. {@link #stop} may be called from any thread; it only sets a flag the loop reads.
 */
final class PingSession {
  /** The longest round trip the histogram records; longer ones count as this. */
  private static final long MAX_RECORDED_NANOS = TimeUnit.SECONDS.toNanos(60);

  private final PingPongEndpoint ep;
  private final PingPongOptions options;
  private final LongAdder roundTrips;
  private final ByteBuffer buffer;
  private final Histogram roundTrip = new Histogram(MAX_RECORDED_NANOS, 3);
  private final CompletableFuture<PingPongResult> result = new CompletableFuture<>();
  private final Cqe sent = (cq, wc) -> onSent(wc);
  private final Cqe echoed = (cq, wc) -> onEcho(wc);
  private final SendWr ping;
  private final RecvWr echo;
  private volatile boolean stopRequested;
  private volatile boolean disconnected;

  // The ping loop's state: written and read by the callbacks (and start, before the first post).
  private long iteration;
  private long startNanos;
  private long deadlineNanos;
  private long postedNanos;
  private long lastNanos;
  private boolean sendDone;
  private boolean echoDone;
  private int outstanding;
  private long flushed;
  private PingPongResult.Outcome ending;
  private String endingDetail = "";

  /** A session on {@code ep} (connected, its buffer 2 x size: the ping, then the echo). */
  PingSession(PingPongEndpoint ep, PingPongOptions options, LongAdder roundTrips) {
    this.ep = ep;
    this.options = options;
    this.roundTrips = roundTrips;
    this.buffer = ep.mr.buffer();
    int size = options.size();
    this.ping = SendWr.builder(WrOpcode.SEND).wrId(1).cqe(sent).flags(SendFlags.SIGNALED)
        .sge(Sge.of(ep.mr, 0, size)).build();
    this.echo = RecvWr.of(echoed, Sge.of(ep.mr, size, size));
  }

  /** Posts the first ping. Once, from the thread that set the session up. */
  void start() {
    startNanos = System.nanoTime();
    lastNanos = startNanos;
    deadlineNanos = options.duration().isZero() ? Long.MAX_VALUE : startNanos + options.duration().toNanos();
    pingNext();
  }

  /** The result, once the session has ended and none of its work requests is outstanding. */
  CompletionStage<PingPongResult> result() {
    return result;
  }

  /**
   * The client's device is going away: the remove that called this disconnects and drains next, which flushes
   * what is in flight and ends the loop. The loop goes on until then, as traffic does when a device is
   * unplugged. Never blocks; any thread.
   */
  void stop() {
    stopRequested = true;
  }

  /** The CM's DISCONNECTED arrived: the server went away. Never blocks; any thread. */
  void disconnected() {
    disconnected = true;
  }

  /**
   * After the endpoint was drained (every WR completed, every callback ran): completes the result if the loop
   * had not. Never blocks; from the thread that drained.
   */
  void drained() {
    if (!result.isDone()) {
      endInterrupted();
      complete();
    }
  }

  private void pingNext() {
    sendDone = false;
    echoDone = false;
    buffer.putLong(0, iteration);
    postedNanos = System.nanoTime();
    try {
      ep.qp.postRecv(echo); // before the ping: the echo must find a receive waiting
      outstanding++;
      ep.qp.postSend(ping);
      outstanding++;
    } catch (PostException e) {
      end(PingPongResult.Outcome.FAILED, "post of iteration " + iteration + " failed: " + e.getMessage());
      completeIfQuiet();
    }
  }

  private void onSent(WorkCompletion wc) {
    outstanding--;
    if (!wc.ok()) {
      failed("the SEND of iteration " + iteration, wc);
      return;
    }
    sendDone = true;
    roundTripDone();
  }

  private void onEcho(WorkCompletion wc) {
    outstanding--;
    if (!wc.ok()) {
      failed("the receive of echo " + iteration, wc);
      return;
    }
    long now = System.nanoTime();
    long number = buffer.getLong(options.size());
    if (wc.byteLen() != options.size() || number != iteration) {
      end(PingPongResult.Outcome.FAILED, "echo " + iteration + " came back as " + wc.byteLen() + " bytes with number "
          + number);
      completeIfQuiet();
      return;
    }
    roundTrip.recordValue(Math.min(now - postedNanos, MAX_RECORDED_NANOS));
    lastNanos = now;
    echoDone = true;
    roundTripDone();
  }

  /** Both completions of the round trip are in: count it, then ping again unless the session is over. */
  private void roundTripDone() {
    if (!sendDone || !echoDone || ending != null) {
      return;
    }
    iteration++;
    roundTrips.increment();
    if (iteration >= options.iterations() || lastNanos >= deadlineNanos) {
      end(PingPongResult.Outcome.COMPLETED, "");
    } else {
      pingNext();
      return;
    }
    completeIfQuiet();
  }

  private void failed(String what, WorkCompletion wc) {
    if (wc.status() == WcStatus.WR_FLUSH_ERR) {
      flushed++;
      // The first bad completion is a flush only if something else moved the QP to ERR: this side's stop, or the
      // CM tearing the connection down (its DISCONNECTED event may come after the flushes).
      endInterrupted();
    } else {
      end(PingPongResult.Outcome.FAILED, what + " completed with " + wc.status());
    }
    completeIfQuiet();
  }

  /** The session was cut short: by this side's stop (which also disconnects), or else by the server's side. */
  private void endInterrupted() {
    if (stopRequested) {
      end(PingPongResult.Outcome.STOPPED, "the client's device went away or the client unregistered");
    } else {
      end(PingPongResult.Outcome.DISCONNECTED, disconnected ? "the server disconnected"
          : "the connection was torn down (the server disconnected or its device went away)");
    }
  }

  /** Records how the session ends; the first reason wins. */
  private void end(PingPongResult.Outcome outcome, String detail) {
    if (ending == null) {
      ending = outcome;
      endingDetail = detail;
    }
  }

  private void completeIfQuiet() {
    if (outstanding == 0) {
      complete();
    }
  }

  private void complete() {
    result.complete(new PingPongResult(ep.device.name(), ep.qp.qpNum(), ending, endingDetail, options.size(),
        iteration, lastNanos - startNanos, flushed, roundTrip));
  }
}
