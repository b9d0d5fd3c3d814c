package dev.midlayer.context;

import dev.midlayer.ib.MidlayerException;

/**
 * A verb that may sleep was called while the thread runs a midlayer callback (atomic context).
 * The seed: "Upper level protocol consumers may not sleep in a callback." The message names the
 * verb and the callback so the offending call site is obvious.
 *
 * <p>Threading: immutable once thrown; every method never blocks and may be called from any thread.
 */
public final class IllegalContextException extends MidlayerException {
  private static final long serialVersionUID = 1L;
  private final String verb;
  private final String callback;

  /** The error for {@code verb}, called while {@code callback} ran on the calling thread. */
  public IllegalContextException(String verb, String callback) {
    super(verb + " may sleep and must not be called from atomic context (inside " + callback + ")");
    this.verb = verb;
    this.callback = callback;
  }

  /** The may-sleep verb that was called. */
  public String verb() {
    return verb;
  }

  /** The callback that was running on the calling thread. */
  public String callback() {
    return callback;
  }
}
