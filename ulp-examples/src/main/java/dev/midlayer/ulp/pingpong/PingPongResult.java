package dev.midlayer.ulp.pingpong;

import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * What one pingpong session measured: how it ended, its round trips and their latency.
 *
 * <p>Threading: made when the session is over, after which nothing records into {@code roundTrip}; every
 * method never blocks and may be called from any thread.
 *
 * @param device the client's device
 * @param qpNum the client's QP number
 * @param outcome how the session ended
 * @param detail what stopped it early (a work completion's status, the device going away), or empty
 * @param size the message size in bytes
 * @param iterations round trips completed
 * @param elapsedNanos from the first post to the last echo (or to the end)
 * @param flushed work requests that completed with WR_FLUSH_ERR (outstanding when the QP went to ERR)
 * @param roundTrip round-trip latency in nanoseconds, one value per completed round trip; read only
 */
public record PingPongResult(String device, int qpNum, Outcome outcome, String detail, int size, long iterations,
    long elapsedNanos, long flushed, Histogram roundTrip) {

  /** How a session ended. */
  public enum Outcome {
    /** Every iteration was done, or the time limit came. */
    COMPLETED,
    /** The client stopped it: its device went away or the client was unregistered. */
    STOPPED,
    /** The server disconnected, or its device went away. */
    DISCONNECTED,
    /** A work request failed (the detail names it) or an echo did not match its ping. */
    FAILED
  }

  /** Seconds the session ran. */
  public double seconds() {
    return elapsedNanos / 1e9;
  }

  /** Bits sent per second, both directions counted once, as {@code ibv_rc_pingpong} reports. */
  public double mbitPerSecond() {
    return elapsedNanos == 0 ? 0 : iterations * size * 2 * 8.0 / seconds() / 1e6;
  }

  /** Mean microseconds per iteration (one round trip), as {@code ibv_rc_pingpong} reports. */
  public double usecPerIteration() {
    return iterations == 0 ? 0 : elapsedNanos / 1e3 / iterations;
  }

  /** The round-trip latency at {@code percentile} (0..100) in microseconds; 0 without round trips. */
  public double roundTripMicros(double percentile) {
    return roundTrip.getTotalCount() == 0 ? 0 : roundTrip.getValueAtPercentile(percentile) / 1e3;
  }

  /** {@code ibv_rc_pingpong}'s two result lines, then the latency percentiles and how the session ended. */
  public String report() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%d bytes in %.2f seconds = %.2f Mbit/sec%n", iterations * size * 2,
        seconds(), mbitPerSecond()));
    sb.append(String.format(Locale.ROOT, "%d iters in %.2f seconds = %.2f usec/iter%n", iterations, seconds(),
        usecPerIteration()));
    sb.append(String.format(Locale.ROOT, "round trip: p50 %.1f us, p99 %.1f us, max %.1f us%n",
        roundTripMicros(50), roundTripMicros(99), roundTripMicros(100)));
    sb.append(outcome == Outcome.COMPLETED ? "completed" : outcome.name().toLowerCase(Locale.ROOT) + ": " + detail);
    if (flushed > 0) {
      sb.append(" (").append(flushed).append(" WRs flushed)");
    }
    return sb.toString();
  }
}
