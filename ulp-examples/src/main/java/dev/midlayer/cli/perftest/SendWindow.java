package dev.midlayer.cli.perftest;

import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-QP send windows of {@code send_bw} and the one-sided bandwidth tests: up to {@code window} WRs
 * outstanding per QP, every {@code mod}-th WR of a QP (and its last) SIGNALED, so that a signaled completion
 * means {@code mod} WRs of that QP (or the rest of its share) completed. The WRs' {@code wr_id} is the QP's
 * index. Every field is touched by one thread only.
 */
final class SendWindow {
  private final String test;
  private final String cqLabel;
  private final QueuePair[] qps;
  private final int count;
  private final int window;
  private final int mod;
  private final SendWr[] unsignaled;
  private final SendWr[] signaled;
  private final long[] share;
  private final long[] posted;
  private final long[] done;
  private final int[] touched;
  private final int postList;
  /** The list posted with one {@code postSend} when {@code postList} > 1; reused. */
  private final List<SendWr> list;

  /**
   * @param test the test's name, in error messages
   * @param qps the client QPs, one window each (the first {@code unsignaled.length})
   * @param unsignaled per QP, the WR posted unsignaled; {@code signaled} the same WR, SIGNALED
   * @param batch the most completions {@link #reap} is given at once
   */
  SendWindow(String test, QueuePair[] qps, int window, int mod, SendWr[] unsignaled, SendWr[] signaled, int batch) {
    this(test, qps, window, mod, unsignaled, signaled, batch, 1);
  }

  /**
   * As above, posting up to {@code postList} WRs per {@code postSend} call (perftest's {@code -l}: one doorbell
   * for a list of WRs).
   */
  SendWindow(String test, QueuePair[] qps, int window, int mod, SendWr[] unsignaled, SendWr[] signaled, int batch,
      int postList) {
    this.test = test;
    this.cqLabel = test + " client CQ";
    this.qps = qps;
    this.count = unsignaled.length;
    this.window = window;
    this.mod = mod;
    this.unsignaled = unsignaled;
    this.signaled = signaled;
    this.share = new long[count];
    this.posted = new long[count];
    this.done = new long[count];
    this.touched = new int[batch];
    this.postList = postList;
    this.list = new ArrayList<>(postList);
  }

  /** Spreads {@code total} WRs evenly over the QPs, nothing posted or completed yet. */
  void reset(long total) {
    for (int i = 0; i < count; i++) {
      share[i] = total / count + (i < total % count ? 1 : 0);
      posted[i] = 0;
      done[i] = 0;
    }
  }

  /**
   * Ends the phase early ({@code -D} time is up, or a stop): each QP posts only what completes the signaling
   * interval it is in (so that the WR that ends it is SIGNALED and its completion accounts for the rest; they are
   * posted now, as far as the windows allow), then nothing more. Returns the phase's new total: the phase is over
   * once that many completed.
   */
  long finish() {
    long total = 0;
    for (int i = 0; i < count; i++) {
      long roundUp = (posted[i] + mod - 1) / mod * mod;
      share[i] = Math.min(share[i], Math.max(posted[i], roundUp));
      total += share[i];
    }
    topUpAll();
    return total;
  }

  /** Fills every QP's window (after {@link #reset}). */
  void topUpAll() {
    for (int i = 0; i < count; i++) {
      topUp(i);
    }
  }

  /**
   * Takes the first {@code n} completions of {@code wcs} (clearing them), each a signaled completion of the QP
   * its {@code wr_id} names; returns how many WRs they complete. Call {@link #topUpReaped} with the same
   * {@code n} to post again on their QPs.
   */
  long reap(WorkCompletion[] wcs, int n) {
    long completed = 0;
    for (int k = 0; k < n; k++) {
      WorkCompletion wc = wcs[k];
      wcs[k] = null;
      if (!wc.ok()) {
        throw PerftestException.failed(cqLabel, wc);
      }
      int qp = (int) wc.wrId();
      // A signaled completion: every WR of this QP up to it completed.
      long advance = Math.min(mod, share[qp] - done[qp]);
      done[qp] += advance;
      completed += advance;
      touched[k] = qp;
    }
    return completed;
  }

  /** Tops up the window of the QP of each of the last {@link #reap}'s {@code n} completions. */
  void topUpReaped(int n) {
    for (int k = 0; k < n; k++) {
      topUp(touched[k]);
    }
  }

  /** Posts WRs on QP {@code i} until its window is full or its share is posted. */
  private void topUp(int i) {
    QueuePair qp = qps[i];
    long p = posted[i];
    long limit = Math.min(share[i], done[i] + window);
    try {
      if (postList == 1) {
        while (p < limit) {
          boolean signal = (p + 1) % mod == 0 || p + 1 == share[i];
          qp.postSend(signal ? signaled[i] : unsignaled[i]);
          p++;
        }
      } else {
        while (p < limit) {
          long end = Math.min(limit, p + postList);
          list.clear();
          for (long q = p; q < end; q++) {
            boolean signal = (q + 1) % mod == 0 || q + 1 == share[i];
            list.add(signal ? signaled[i] : unsignaled[i]);
          }
          qp.postSend(list);
          p = end;
        }
      }
    } catch (PostException e) {
      throw new PerftestException(test + ": postSend on QP " + qp.qpNum() + " refused: " + e.getMessage(), e);
    } finally {
      posted[i] = p;
    }
  }
}
