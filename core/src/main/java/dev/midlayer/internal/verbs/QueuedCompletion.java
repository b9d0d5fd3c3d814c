package dev.midlayer.internal.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.WorkCompletion;

/**
 * Internal API. A completion in a CQ that still holds its work request's slot: polling it frees the slot
 * ({@link #release()}), as on hardware, so that a queue of depth N never has more than N completions
 * waiting and a CQ sized for the sum of its queues' depths never overflows.
 */
public final class QueuedCompletion extends WorkCompletion {
  private final SlotOwner owner;
  private final int epoch;

  QueuedCompletion(long wrId, Cqe cqe, WcStatus status, WcOpcode opcode, int byteLen, int qpNum, int srcQp,
      int wcFlags, int immData, int invalidatedRkey, int slid, int portNum, SlotOwner owner, int epoch) {
    super(wrId, cqe, status, opcode, byteLen, qpNum, srcQp, wcFlags, immData, invalidatedRkey, 0, slid, portNum);
    this.owner = owner;
    this.epoch = epoch;
  }

  /** An error completion (only the fields IB defines for one). */
  static QueuedCompletion error(long wrId, Cqe cqe, WcStatus status, WcOpcode opcode, int qpNum, SlotOwner owner,
      int epoch) {
    return new QueuedCompletion(wrId, cqe, status, opcode, 0, qpNum, 0, 0, 0, 0, 0, 0, owner, epoch);
  }

  /**
   * Frees the slot; called once, by the one poller that took the completion (or by the producer when the CQ
   * refused it). Lock-free.
   */
  public void release() {
    owner.release(epoch, 1);
  }

  /**
   * Frees the slots of the completions in {@code wcs[0..n)} that hold one, one update per run of completions
   * of the same queue and epoch (a poll of a batch from one QP costs one atomic, not one per completion).
   * Called once, by the poller that took them. Lock-free.
   */
  public static void releaseAll(WorkCompletion[] wcs, int n) {
    SlotOwner owner = null;
    int epoch = 0;
    int slots = 0;
    for (int i = 0; i < n; i++) {
      if (wcs[i] instanceof QueuedCompletion q) {
        if (q.owner != owner || q.epoch != epoch) {
          if (slots > 0) {
            owner.release(epoch, slots);
          }
          owner = q.owner;
          epoch = q.epoch;
          slots = 0;
        }
        slots++;
      }
    }
    if (slots > 0) {
      owner.release(epoch, slots);
    }
  }
}
