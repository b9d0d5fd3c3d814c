package dev.midlayer.drivers.engine;

/**
 * The timer tables of IB's reliable transport (IBA 9.7.5.2.8 and 9.9.1.3): the local ACK timeout
 * {@code 4.096 µs × 2^timeout} and the RNR NAK timer codes. Every duration is multiplied by the driver's
 * timer scale ({@code midlayer.loopback.timer-scale}, ...), so tests can run IB's timers faster. Pure
 * functions; any thread.
 */
final class TransportTimers {
  private TransportTimers() {}

  /** The RNR NAK timer table of IB (code to microseconds; code 0 is the longest, 655.36 ms). */
  private static final long[] RNR_MICROS = {655_360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960,
      1_280, 1_920, 2_560, 3_840, 5_120, 7_680, 10_240, 15_360, 20_480, 30_720, 40_960, 61_440, 81_920, 122_880,
      163_840, 245_760, 327_680, 491_520};

  /** The ACK timeout of {@code code} (the QP's {@code timeout} attribute) in nanoseconds; 0 waits forever. */
  static long ackTimeoutNanos(int code, double timerScale) {
    return code == 0 ? 0 : Math.max(1_000, (long) (4096L * (1L << code) * timerScale));
  }

  /** The RNR wait of timer code {@code code} (0..31) in nanoseconds, at least a microsecond. */
  static long rnrNanos(int code, double timerScale) {
    return Math.max(1_000, (long) (RNR_MICROS[code & 31] * 1_000 * timerScale));
  }
}
