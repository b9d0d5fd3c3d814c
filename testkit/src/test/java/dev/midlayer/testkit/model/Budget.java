package dev.midlayer.testkit.model;

/**
 * How much work a randomized model test does. The CI default is small (all randomized model tests together
 * stay well under three minutes on a slow two-core machine); {@code -Dmidlayer.test.long=true} multiplies
 * every budget by {@link #LONG_FACTOR}, and {@code -Dmidlayer.test.iterations=N} sets the iterations of every
 * test to {@code N} (it wins over the long mode).
 */
final class Budget {
  /** How much longer the long mode runs. */
  static final int LONG_FACTOR = 10;

  private Budget() {}

  /** The iterations of a test whose CI default is {@code ciDefault}. */
  static int iterations(int ciDefault) {
    String fixed = System.getProperty("midlayer.test.iterations");
    if (fixed != null && !fixed.isBlank()) {
      return Integer.parseInt(fixed.strip());
    }
    return isLong() ? ciDefault * LONG_FACTOR : ciDefault;
  }

  /** True with {@code -Dmidlayer.test.long=true}. */
  static boolean isLong() {
    return Boolean.getBoolean("midlayer.test.long");
  }
}
