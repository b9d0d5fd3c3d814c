package dev.midlayer.context;

/**
 * Marks the current thread as running a midlayer callback (a completion handler, an async event
 * handler, a per-WR {@code done} callback). That is the JVM form of the kernel's atomic context:
 * while the mark is set, verbs that may sleep are refused by {@link ContextChecker}.
 *
 * <p>The mark is a thread-local, so it costs one thread-local read to test. Marks nest: the inner
 * callback's name is reported while it runs and the outer one is restored afterwards.
 *
 * <p>Thread safety: every method acts on the calling thread only; callable from any thread, never
 * blocks.
 */
public final class AtomicContext {
  private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();

  private AtomicContext() {}

  /** True if the calling thread is inside a midlayer callback. Never blocks; any thread. */
  public static boolean isAtomic() {
    return CURRENT.get() != null;
  }

  /** The callback the calling thread is running (e.g. {@code "event handler 'ipoib' on lo0"}), or null. */
  public static String currentCallback() {
    return CURRENT.get();
  }

  /**
   * Runs {@code body} with the calling thread marked as inside {@code callback}. Used by the
   * midlayer and by drivers around every consumer callback. Exceptions from {@code body} propagate
   * after the mark is restored. Never blocks by itself; any thread.
   */
  public static void run(String callback, Runnable body) {
    String outer = CURRENT.get();
    CURRENT.set(callback);
    try {
      body.run();
    } finally {
      if (outer == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(outer);
      }
    }
  }
}
