package dev.midlayer.cli.perftest;

import java.util.concurrent.TimeUnit;

/**
 * The peak rate of a bandwidth phase: the best rate over intervals of at least {@link #INTERVAL_MS}, in
 * completions per nanosecond (0 if the phase was shorter than one interval). The last interval runs on to the
 * latest sample, so the intervals cover the whole phase and the peak is never below the phase's average (a
 * short fast tail left out made it so). With the environment variable {@code PERFTEST_TRACE} set, every
 * interval's rate goes to stderr. One thread only.
 */
final class PeakMeter {
  static final long INTERVAL_MS = 20;
  private static final boolean TRACE = System.getenv("PERFTEST_TRACE") != null;
  private static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(INTERVAL_MS);

  /** Message size for the trace's MiB/s, or -1: the trace shows the time since {@link #start} instead. */
  private final int traceSize;
  private long start;
  /** Where the open interval began. */
  private long markTime;
  private long markCount;
  /** Where the last closed interval began (valid once {@link #closed}). */
  private long prevTime;
  private long prevCount;
  /** The latest sample. */
  private long lastTime;
  private long lastCount;
  /** The best rate of the closed intervals before the last one. */
  private double peakBefore;
  private boolean closed;

  private PeakMeter(int traceSize) {
    this.traceSize = traceSize;
  }

  /** Trace lines: ms since the phase's start, Mpps. */
  static PeakMeter elapsed() {
    return new PeakMeter(-1);
  }

  /** Trace lines: Mpps, MiB/s of {@code size}-byte messages. */
  static PeakMeter bandwidth(int size) {
    return new PeakMeter(size);
  }

  /** Starts a phase now, with nothing completed. */
  void start() {
    start(System.nanoTime());
  }

  /** Starts a phase at {@code now} (a {@link System#nanoTime} value), with nothing completed. */
  void start(long now) {
    start = now;
    markTime = now;
    markCount = 0;
    lastTime = now;
    lastCount = 0;
    peakBefore = 0;
    closed = false;
  }

  /** {@code completed} in all since {@link #start} at {@code now}: closes an interval if one has passed. */
  void sample(long now, long completed) {
    lastTime = now;
    lastCount = completed;
    if (now - markTime >= INTERVAL_NANOS) {
      if (closed) {
        peakBefore = Math.max(peakBefore, rate(prevTime, prevCount, markTime, markCount));
      }
      if (TRACE) {
        trace(now, completed);
      }
      prevTime = markTime;
      prevCount = markCount;
      closed = true;
      markTime = now;
      markCount = completed;
    }
  }

  private static double rate(long fromTime, long fromCount, long toTime, long toCount) {
    return (double) (toCount - fromCount) / (toTime - fromTime);
  }

  private void trace(long now, long completed) {
    if (traceSize < 0) {
      System.err.printf("%8.1f ms %8.3f Mpps%n", (now - start) / 1e6, (completed - markCount) * 1e3 / (now - markTime));
    } else {
      System.err.printf("%8.3f Mpps %8.1f MiB/s%n", (completed - markCount) * 1e3 / (now - markTime),
          (completed - markCount) * 1e9 / (now - markTime) * traceSize / (1024.0 * 1024.0));
    }
  }

  /**
   * The bandwidth row of a phase of {@code n} messages of {@code size} bytes that took {@code nanos}, whose
   * {@link #peakRate} was {@code peakRate} (0: the average is the peak).
   */
  static PerftestOutput row(String test, int size, long n, int qps, long nanos, double peakRate) {
    double seconds = nanos / 1e9;
    double msgsPerSec = n / seconds;
    double mib = size / (1024.0 * 1024.0);
    double avg = msgsPerSec * mib;
    double peak = peakRate > 0 ? peakRate * 1e9 * mib : avg;
    return new PerftestOutput(test, size, n, qps)
        .put("bw_peak_mib_s", peak)
        .put("bw_avg_mib_s", avg)
        .put("msg_rate_mpps", msgsPerSec / 1e6);
  }

  /**
   * The best interval rate of the phase so far, in completions per nanosecond: the closed intervals, the last of
   * them extended to the latest sample (at least {@link #INTERVAL_MS} long, and together they cover the phase);
   * 0 before the first interval closed.
   */
  double peakRate() {
    if (!closed) {
      return 0;
    }
    return Math.max(peakBefore, rate(prevTime, prevCount, lastTime, lastCount));
  }
}
