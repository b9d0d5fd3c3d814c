package dev.midlayer.testkit;

import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * One seed per test for randomized scenarios, printed when the test fails and replayed with
 * {@code -Dmidlayer.test.seed=<seed>}:
 *
 * <pre>{@code
 * @RegisterExtension final Seeds seeds = new Seeds();
 *
 * @Test void randomTraffic() {
 *   Random rnd = seeds.random(); // or seeds.seed() for a helper that takes a long
 *   ...
 * }
 * }</pre>
 *
 * <p>Without the property each test gets a fresh seed. A failing test's exception keeps its type and message and
 * gets a suppressed {@link SeedReport} naming the seed and the property to replay it; the same line goes to
 * stderr. {@link #seed()} and {@link #random()} never block and may be called from any thread while a test runs.
 */
public final class Seeds implements BeforeEachCallback, AfterEachCallback, TestExecutionExceptionHandler {
  /** The system property that replays a seed. */
  public static final String PROPERTY = "midlayer.test.seed";

  private volatile Long current;

  /** What a failed test's exception carries: the seed and how to replay it. Immutable; never blocks, any thread. */
  public static final class SeedReport extends RuntimeException {
    private final long seed;

    SeedReport(String test, long seed) {
      super(test + " ran with seed " + seed + "; replay with -D" + PROPERTY + "=" + seed, null, false, false);
      this.seed = seed;
    }

    /** The seed the test ran with. */
    public long seed() {
      return seed;
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    current = seedFrom(System.getProperty(PROPERTY));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    current = null;
  }

  @Override
  public void handleTestExecutionException(ExtensionContext context, Throwable throwable) throws Throwable {
    Long seed = current;
    if (seed != null) {
      SeedReport report = new SeedReport(context.getDisplayName(), seed);
      throwable.addSuppressed(report);
      System.err.println("[midlayer testkit] " + report.getMessage());
    }
    throw throwable;
  }

  /** The running test's seed. */
  public long seed() {
    Long seed = current;
    if (seed == null) {
      throw new IllegalStateException("no test is running: Seeds gives a seed per test (register it with "
          + "@RegisterExtension on an instance or static field)");
    }
    return seed;
  }

  /** A new {@link Random} on the running test's seed: the same sequence on a replay. */
  public Random random() {
    return new Random(seed());
  }

  static long seedFrom(String property) {
    if (property == null || property.isBlank()) {
      return new SplittableRandom().nextLong(); // each instance is seeded apart, from any thread
    }
    try {
      return Long.parseLong(property.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + PROPERTY + "=" + property + " is not a long", e);
    }
  }
}
