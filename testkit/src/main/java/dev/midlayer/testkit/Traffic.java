package dev.midlayer.testkit;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Traffic for a {@link ConnectedPair} whose CQs have no handler (the test polls them): a windowed, credit-based
 * stream of SENDs, and ping-pong. Every helper busy-polls on the calling (test) thread until it is done or
 * {@code deadline} passed (a guard against a hang; nothing here measures speed) and fails with an
 * {@link AssertionError} naming the first completion that was not a success. RC and UC pairs.
 */
public final class Traffic {
  private Traffic() {}

  /** The completions of a stream: a's send completions and b's receive completions, each in the order polled. */
  public record Stream(List<WorkCompletion> sends, List<WorkCompletion> receives) {}

  /**
   * Sends {@code n} messages of {@code bytes} from a to b, with at most {@code window} sends outstanding and,
   * credit-based, never more sends than b has receives posted (so the stream meets no RNR NAK). b's receives are
   * posted as its queue has room, each on its own slice of b's buffer ({@code bytes} each, wrapping). Send
   * {@code i} has wr_id {@code i}, receive {@code i} wr_id {@code i} too. Blocks the test thread.
   *
   * @throws PostException if a post is refused for another reason than a full queue
   */
  public static Stream stream(ConnectedPair p, int n, int bytes, int window, Duration deadline) {
    if (n < 0 || bytes < 0 || window < 1) {
      throw new IllegalArgumentException("needs n >= 0, bytes >= 0 and window >= 1");
    }
    int maxRecv = p.b().qp().cap().maxRecvWr();
    int slots = (int) Math.max(1, Math.min(maxRecv, p.b().mr().length() / Math.max(1, bytes)));
    List<WorkCompletion> sends = new ArrayList<>(n);
    List<WorkCompletion> receives = new ArrayList<>(n);
    long end = System.nanoTime() + deadline.toNanos();
    int recvPosted = 0;
    int sendPosted = 0;
    while (sends.size() < n || receives.size() < n) {
      boolean progress = false;
      // Receives, while b's queue (and its buffer slices) have room.
      while (recvPosted < n && recvPosted - receives.size() < Math.min(maxRecv, slots)) {
        long at = (long) (recvPosted % slots) * bytes;
        p.b().qp().postRecv(RecvWr.of(recvPosted, Sge.of(p.b().mr(), at, bytes)));
        recvPosted++;
        progress = true;
      }
      // Sends, within the window and the credits b gave.
      while (sendPosted < n && sendPosted - sends.size() < window && sendPosted < recvPosted) {
        try {
          p.a().qp().postSend(SendWr.send(sendPosted, SendFlags.SIGNALED, Sge.of(p.a().mr(), 0, bytes)));
        } catch (PostException e) {
          if (e.reason() != PostException.Reason.QUEUE_FULL) {
            throw e;
          }
          break; // back off: poll first
        }
        sendPosted++;
        progress = true;
      }
      progress |= drain(p.a().cq(), sends);
      progress |= drain(p.b().cq(), receives);
      if (!progress) {
        checkDeadline(end, deadline, "stream: " + sends.size() + " of " + n + " sends and " + receives.size()
            + " receives completed");
        Thread.onSpinWait();
      }
    }
    return new Stream(sends, receives);
  }

  /**
   * Ping-pong: a sends {@code bytes} to b, b answers with as many, {@code rounds} times. Returns each round trip
   * in nanoseconds (as seen by the test thread, which drives both sides). Blocks the test thread.
   */
  public static long[] pingPong(ConnectedPair p, int rounds, int bytes, Duration deadline) {
    long[] rtt = new long[rounds];
    long end = System.nanoTime() + deadline.toNanos();
    List<WorkCompletion> sink = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      p.b().qp().postRecv(RecvWr.of(r, Sge.of(p.b().mr(), 0, bytes)));
      p.a().qp().postRecv(RecvWr.of(r, Sge.of(p.a().mr(), bytes, bytes)));
      long start = System.nanoTime();
      p.a().qp().postSend(SendWr.send(r, SendFlags.SIGNALED, Sge.of(p.a().mr(), 0, bytes)));
      awaitOne(p.b().cq(), sink, end, deadline, "round " + r + ": the ping's receive");
      p.b().qp().postSend(SendWr.send(r, SendFlags.SIGNALED, Sge.of(p.b().mr(), bytes, bytes)));
      // a sees its send's and the pong's completions, in either order.
      awaitOne(p.a().cq(), sink, end, deadline, "round " + r + ": a's completions");
      awaitOne(p.a().cq(), sink, end, deadline, "round " + r + ": a's completions");
      rtt[r] = System.nanoTime() - start;
      awaitOne(p.b().cq(), sink, end, deadline, "round " + r + ": the pong's send completion");
    }
    return rtt;
  }

  private static void awaitOne(CompletionQueue cq, List<WorkCompletion> sink, long end, Duration deadline,
      String what) {
    int before = sink.size();
    while (sink.size() == before) {
      if (!drainOne(cq, sink)) {
        checkDeadline(end, deadline, what);
        Thread.onSpinWait();
      }
    }
  }

  private static boolean drain(CompletionQueue cq, List<WorkCompletion> into) {
    boolean any = false;
    while (drainOne(cq, into)) {
      any = true;
    }
    return any;
  }

  private static boolean drainOne(CompletionQueue cq, List<WorkCompletion> into) {
    WorkCompletion wc = cq.poll();
    if (wc == null) {
      return false;
    }
    if (wc.status() != WcStatus.SUCCESS) {
      throw new AssertionError("a completion failed: " + wc);
    }
    into.add(wc);
    return true;
  }

  private static void checkDeadline(long end, Duration deadline, String what) {
    if (System.nanoTime() - end > 0) {
      throw new AssertionError("not done within " + deadline + ": " + what);
    }
  }
}
