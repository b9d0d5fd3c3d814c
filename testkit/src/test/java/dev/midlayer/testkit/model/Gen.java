package dev.midlayer.testkit.model;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The models' generator: a {@link SplittableRandom} on the test's seed with the few draws the models need.
 * Every decision of a model run comes from here and from the model's own state, never from timing, so a
 * seed replays the same sequence of operations (what the transport then does with them may vary in timing,
 * which no checked property depends on). Not thread-safe: the test's thread only.
 */
final class Gen {
  private final SplittableRandom rnd;

  Gen(long seed) {
    this.rnd = new SplittableRandom(seed);
  }

  /** A uniform int in {@code lo..hi}, both included. */
  int between(int lo, int hi) {
    return lo + rnd.nextInt(hi - lo + 1);
  }

  /** A uniform int in {@code 0..n-1}. */
  int below(int n) {
    return rnd.nextInt(n);
  }

  /** True with probability {@code p}. */
  boolean chance(double p) {
    return rnd.nextDouble() < p;
  }

  /** A uniform double in [lo, hi). */
  double uniform(double lo, double hi) {
    return lo + rnd.nextDouble() * (hi - lo);
  }

  int nextInt() {
    return rnd.nextInt();
  }

  long nextLong() {
    return rnd.nextLong();
  }

  /** One of {@code items}, uniformly. */
  <T> T pick(List<T> items) {
    return items.get(rnd.nextInt(items.size()));
  }

  @SafeVarargs
  final <T> T pick(T... items) {
    return items[rnd.nextInt(items.length)];
  }

  /** An index drawn with the given (non-negative) weights. */
  int weighted(int... weights) {
    int total = 0;
    for (int w : weights) {
      total += w;
    }
    int x = rnd.nextInt(total);
    for (int i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) {
        return i;
      }
    }
    throw new AssertionError("unreachable");
  }

  /** A generator of its own for a sub-sequence (fault plans, payload patterns), split off this one. */
  long split() {
    return rnd.split().nextLong();
  }
}
