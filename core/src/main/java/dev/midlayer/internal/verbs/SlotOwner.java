package dev.midlayer.internal.verbs;

/** Internal API. A queue whose slots completions free when they are polled (a QP's SQ or RQ, or an SRQ). */
interface SlotOwner {
  /**
   * Frees {@code slots} slots taken in {@code epoch} (a QP's queue starts a new epoch at each reset, which
   * frees every slot of the old one at once). Lock-free; any thread.
   */
  void release(int epoch, int slots);
}
