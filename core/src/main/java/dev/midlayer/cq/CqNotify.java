package dev.midlayer.cq;

/** What arms a CQ's next notification ({@code IB_CQ_SOLICITED} / {@code IB_CQ_NEXT_COMP}). */
public enum CqNotify {
  /**
   * The next solicited completion: a receive of a message sent with the SOLICITED flag, or any
   * completion with an error status.
   */
  SOLICITED,
  /** The next completion of any kind. */
  NEXT_COMP
}
