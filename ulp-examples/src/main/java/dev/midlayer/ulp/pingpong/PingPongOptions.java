package dev.midlayer.ulp.pingpong;

import java.time.Duration;

/**
 * What a pingpong session does: messages of {@code size} bytes, until {@code iterations} round trips are done or
 * {@code duration} has passed (whichever comes first; {@link Duration#ZERO}: no time limit), with the CQ polled
 * by its actor or, with {@code busyPoll}, by a thread of the endpoint that spins on it (as
 * {@code ibv_rc_pingpong} without {@code -e}).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param size the message size in bytes, 8 or more (the first 8 carry the iteration number the echo must return)
 * @param iterations round trips per session, 1 or more
 * @param duration the longest a session runs, or zero for no limit
 * @param busyPoll true to busy-poll the CQ, false to let its actor deliver completions
 */
public record PingPongOptions(int size, long iterations, Duration duration, boolean busyPoll) {
  /** The smallest message: the iteration number. */
  public static final int MIN_SIZE = 8;
  /** The largest message this template registers buffers for. */
  public static final int MAX_SIZE = 1 << 24;
  /** The service ID both sides use unless told otherwise ("MLPING"). */
  public static final long SERVICE_ID = 0x4D4C_5049_4E47_0000L;

  /** Checks the fields, naming the one that is wrong. */
  public PingPongOptions {
    if (size < MIN_SIZE || size > MAX_SIZE) {
      throw new IllegalArgumentException("size must be " + MIN_SIZE + ".." + MAX_SIZE + " bytes, was " + size);
    }
    if (iterations < 1) {
      throw new IllegalArgumentException("iterations must be at least 1, was " + iterations);
    }
    if (duration == null || duration.isNegative()) {
      throw new IllegalArgumentException("duration must be zero or positive, was " + duration);
    }
  }

  /** {@code ibv_rc_pingpong}'s defaults: 4096 bytes, 1000 iterations, no time limit, completions by the actor. */
  public static PingPongOptions defaults() {
    return new PingPongOptions(4096, 1000, Duration.ZERO, false);
  }

  /** These options with {@code bytes} per message. */
  public PingPongOptions withSize(int bytes) {
    return new PingPongOptions(bytes, iterations, duration, busyPoll);
  }

  /** These options with {@code n} round trips per session. */
  public PingPongOptions withIterations(long n) {
    return new PingPongOptions(size, n, duration, busyPoll);
  }

  /** These options with sessions that stop after {@code d} (zero: no limit). */
  public PingPongOptions withDuration(Duration d) {
    return new PingPongOptions(size, iterations, d, busyPoll);
  }

  /** These options with busy polling on or off. */
  public PingPongOptions withBusyPoll(boolean on) {
    return new PingPongOptions(size, iterations, duration, on);
  }
}
