package dev.midlayer.context;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the context rule to may-sleep verbs: called first thing by every verb that may sleep
 * (register/unregister device and client, create/destroy objects, queries). One instance per
 * {@link dev.midlayer.Midlayer}, configured by {@code midlayer.context-check}.
 *
 * <p>Thread safety: immutable; callable from any thread; never blocks.
 */
public final class ContextChecker {
  private static final Logger log = LoggerFactory.getLogger(ContextChecker.class);
  private final ContextCheckMode mode;

  /** A checker that applies {@code mode}. */
  public ContextChecker(ContextCheckMode mode) {
    this.mode = mode;
  }

  /** The mode this checker applies. */
  public ContextCheckMode mode() {
    return mode;
  }

  /**
   * Declares that {@code verb} may sleep (the kernel's {@code might_sleep()}). In atomic context
   * this throws {@link IllegalContextException} (strict), logs a warning (warn) or does nothing (off).
   */
  public void mightSleep(String verb) {
    if (mode == ContextCheckMode.OFF) {
      return;
    }
    String callback = AtomicContext.currentCallback();
    if (callback == null) {
      return;
    }
    if (mode == ContextCheckMode.STRICT) {
      throw new IllegalContextException(verb, callback);
    }
    log.warn("{} may sleep but was called from atomic context (inside {})", verb, callback,
        new IllegalContextException(verb, callback));
  }
}
