package dev.midlayer.dispatch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

/** How the midlayer's executors size their fixed pools from config, as Pekko sizes its own. */
final class PoolSize {
  private PoolSize() {}

  /**
   * ceil(cores x parallelism-factor) bounded by parallelism-min and parallelism-max, read from {@code section}
   * (named {@code sectionName} in the error when the bounds are bad).
   */
  static int parallelism(Config section, String sectionName, int cores) {
    int min = section.getInt("parallelism-min");
    int max = section.getInt("parallelism-max");
    double factor = section.getDouble("parallelism-factor");
    if (min < 1 || max < min || factor <= 0) {
      throw new ConfigException.BadValue(section.origin(), sectionName,
          "needs 1 <= parallelism-min <= parallelism-max and parallelism-factor > 0");
    }
    return Math.min(max, Math.max(min, (int) Math.ceil(cores * factor)));
  }
}
