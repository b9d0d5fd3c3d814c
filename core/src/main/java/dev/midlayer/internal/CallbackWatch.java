package dev.midlayer.internal;

/**
 * Internal API. The callback an actor of the midlayer is running now, if any, for the
 * {@link CallbackWatchdog}: one per actor that calls consumer code (a CQ's actor, a device's event actor).
 * Written only by that actor (two volatile writes per callback), read by the watchdog.
 */
public final class CallbackWatch {
  private volatile String running;
  private volatile long sinceNanos;
  /** Watchdog only: when it last warned about the current callback. */
  long warnedAtNanos;

  /** The actor is about to call {@code callback}. Owning actor only. */
  public void begin(String callback) {
    sinceNanos = System.nanoTime();
    running = callback;
  }

  /** The callback returned (or threw). Owning actor only. */
  public void end() {
    running = null;
  }

  /** The callback running now, or null. Any thread. */
  String running() {
    return running;
  }

  /** When the callback running now began ({@link System#nanoTime()}). Any thread. */
  long sinceNanos() {
    return sinceNanos;
  }
}
