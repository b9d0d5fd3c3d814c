package dev.midlayer.cli.perftest;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * When a measured phase of a perftest ends, besides its iteration count: perftest's {@code -D} (a duration
 * instead of {@code -n}), a stop asked for by Ctrl-C or SIGTERM ({@link StopSignals}), and, on a terminal, a
 * progress line on stderr once a second of a phase longer than that. The phase loop asks {@link #over} at most
 * once per poll round: a volatile read and, only with {@code -D}, a comparison with the time it already took.
 *
 * <p>Threading: {@link #over}, {@link #phase} and {@link #progress} are for the command's thread, the one that
 * polls; {@link #requestStop} may be called from any thread (the signal handler's). Nothing here blocks.
 */
final class RunControl implements AutoCloseable {
  private static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final String test;
  private final long durationNanos;
  private final PrintWriter progressTo;
  private final StopSignals signals;
  private volatile String stopSignal;
  private long phaseStart;
  private long deadline = Long.MAX_VALUE;
  private long nextProgress;
  private boolean progressShown;
  private String label = "";
  /** True once a measured phase began: a stop before that measured nothing. */
  private volatile boolean measuring;

  private RunControl(String test, long durationSeconds, PrintWriter progressTo, boolean handleSignals) {
    this.test = test;
    this.durationNanos = TimeUnit.SECONDS.toNanos(durationSeconds);
    this.progressTo = progressTo;
    this.signals = handleSignals ? StopSignals.install(this::requestStop) : null;
  }

  /**
   * The control of a run of {@code test}: {@code durationSeconds} 0 for an iteration count; progress lines to
   * {@code err} when it is a terminal (never with {@code --json}, whose output scripts read).
   */
  static RunControl start(String test, long durationSeconds, PrintWriter err, boolean json, boolean handleSignals) {
    boolean progress = !json && (System.console() != null || Boolean.getBoolean(PROGRESS_PROPERTY));
    return new RunControl(test, durationSeconds, progress ? err : null, handleSignals);
  }

  /** System property that turns the progress line on without a terminal (a test that waits for it). */
  static final String PROGRESS_PROPERTY = "perftest.progress";

  /** True with {@code -D}: phases end by time, not by count. */
  boolean timed() {
    return durationNanos > 0;
  }

  /** Ends the current phase and those after it: a Ctrl-C or SIGTERM ({@code signal} its name). Any thread. */
  void requestStop(String signal) {
    stopSignal = signal;
  }

  /** True once a measured phase began. */
  boolean measuredAnything() {
    return measuring;
  }

  /** The signal that stopped the run, or null. */
  String stoppedBy() {
    return stopSignal;
  }

  /**
   * A measured phase begins now: with {@code -D} it ends {@code -D} seconds from now; {@code label} names it
   * in the progress line (e.g. {@code 65536 B}).
   */
  void phase(String label, long now) {
    measuring = true;
    this.label = label;
    phaseStart = now;
    deadline = timed() ? now + durationNanos : Long.MAX_VALUE;
    nextProgress = now + PROGRESS_NANOS;
  }

  /** A measured phase ({@link #phase}) or, if not {@code measured}, a warm-up ({@link #warmup}) begins now. */
  void begin(boolean measured, String label, long now) {
    if (measured) {
      phase(label, now);
    } else {
      warmup(now);
    }
  }

  /** A warm-up phase begins now: it ends by its count (or a stop), never by {@code -D}. */
  void warmup(long now) {
    phaseStart = now;
    deadline = Long.MAX_VALUE;
    nextProgress = Long.MAX_VALUE;
  }

  /** True once the phase should post no more: a stop was asked for, or the {@code -D} time is up at {@code now}. */
  boolean over(long now) {
    return stopSignal != null || now >= deadline;
  }

  /** True if a stop was asked for (a volatile read: for loops that do not read the clock). */
  boolean stopping() {
    return stopSignal != null;
  }

  /**
   * Shows the phase's progress ({@code done} of {@code total} iterations, total 0 when timed) if a second
   * passed since the last line, on a terminal.
   */
  void progress(long now, long done, long total) {
    if (progressTo == null || now < nextProgress) {
      return;
    }
    nextProgress = now + PROGRESS_NANOS;
    double s = (now - phaseStart) / 1e9;
    String text = timed()
        ? String.format(Locale.ROOT, "%s %s: %.0f of %d s, %d iterations", test, label, s,
            TimeUnit.NANOSECONDS.toSeconds(durationNanos), done)
        : String.format(Locale.ROOT, "%s %s: %d of %d iterations (%.0f %%), %.0f s", test, label, done, total,
            100.0 * done / Math.max(1, total), s);
    progressTo.print("\r" + text + " ");
    progressTo.flush();
    progressShown = true;
  }

  /** Clears the progress line before a result row is printed under it. */
  void clearProgress() {
    if (progressShown) {
      progressTo.print("\r" + " ".repeat(100) + "\r");
      progressTo.flush();
      progressShown = false;
    }
  }

  /** Puts the JVM's signal handlers back. */
  @Override
  public void close() {
    clearProgress();
    if (signals != null) {
      signals.close();
    }
  }
}
