package dev.midlayer.cq;

/**
 * Who polls a CQ made with {@link dev.midlayer.device.Device#allocCq} (the modern {@code ib_cq} API's poll contexts).
 */
public enum PollContext {
  /**
   * The ULP polls, with {@link CompletionQueue#poll} or {@link CompletionQueue#processDirect}. The CQ is
   * never armed by the midlayer.
   */
  DIRECT,
  /**
   * The CQ's actor polls: it is armed at creation; on each notification the actor polls in batches of 16,
   * calls each work request's {@link Cqe#done} in atomic context, stops after {@code midlayer.cq.poll-budget}
   * completions, re-arms with "report missed events", and continues with a message to itself when more
   * arrived. Every WR posted to a QP using such a CQ should carry a {@link Cqe}.
   */
  ACTOR
}
