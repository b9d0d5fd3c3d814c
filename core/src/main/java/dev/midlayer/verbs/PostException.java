package dev.midlayer.verbs;

import dev.midlayer.ib.MidlayerException;

/**
 * A post verb refused a work request ({@code ib_post_send}/{@code ib_post_recv} returning an error and
 * {@code bad_wr}). The WRs before {@link #badIndex()} in the list stay posted; that one and the ones after
 * it were not posted. Thrown at once; never means a wait. No stack trace is captured: it is a result on
 * the data path, and its message says what was wrong.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class PostException extends MidlayerException {
  private static final long serialVersionUID = 1L;

  /** Why a work request was refused. */
  public enum Reason {
    /** The queue is full (the kernel's {@code -ENOMEM}): retry after completions have been polled. */
    QUEUE_FULL,
    /** The request can never be posted as it is, or not in the QP's state (the kernel's {@code -EINVAL}). */
    INVALID
  }

  private final Reason reason;
  private final int badIndex;

  /**
   * The refusal of the work request at {@code badIndex} of the posted list, for {@code reason}; the message
   * gets the index appended.
   */
  public PostException(Reason reason, int badIndex, String message) {
    super(message + " (work request " + badIndex + " of the list)", false);
    this.reason = reason;
    this.badIndex = badIndex;
  }

  /** Why it was refused. */
  public Reason reason() {
    return reason;
  }

  /** The index in the posted list of the first work request that was not posted. */
  public int badIndex() {
    return badIndex;
  }
}
