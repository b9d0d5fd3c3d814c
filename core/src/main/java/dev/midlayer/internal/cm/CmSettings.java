package dev.midlayer.internal.cm;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Internal API. The {@code midlayer.cm} section of the config (see {@code reference.conf}). Immutable.
 */
public record CmSettings(String serviceKey, Duration retryInterval, Duration connectTimeout,
    Duration disconnectTimeout, Duration timewait, int minRnrTimer, Duration resolveTimeout) {

  public static CmSettings fromConfig(Config root) {
    Config c = root.getConfig("midlayer.cm");
    CmSettings s = new CmSettings(c.getString("service-key"), positive(c, "retry-interval"),
        positive(c, "connect-timeout"), positive(c, "disconnect-timeout"), positive(c, "timewait"),
        c.getInt("min-rnr-timer"), positive(c, "resolve-timeout"));
    if (s.minRnrTimer < 0 || s.minRnrTimer > 31) {
      throw new IllegalArgumentException("midlayer.cm.min-rnr-timer must be 0..31, was " + s.minRnrTimer);
    }
    return s;
  }

  private static Duration positive(Config c, String key) {
    Duration d = c.getDuration(key);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("midlayer.cm." + key + " must be positive, was " + d);
    }
    return d;
  }
}
