package dev.midlayer;

import com.typesafe.config.Config;
import dev.midlayer.context.ContextCheckMode;
import java.time.Duration;

/**
 * The midlayer's settings, read from the {@code midlayer} section of the actor system's config (see
 * {@code reference.conf} for every key and its meaning). Immutable; safe from any thread.
 *
 * @param contextCheck {@code midlayer.context-check}
 * @param clientAckWarningInterval {@code midlayer.client-ack-warning-interval}
 * @param unregisteredDeviceLinger {@code midlayer.unregistered-device-linger}
 * @param controlDispatcher config path of the dispatcher for the registry and device actors
 * @param clientDispatcher config path of the dispatcher for client actors
 * @param dataPathDispatcher config path of the dispatcher for drivers' data-path actors
 * @param callbackDispatcher config path of the dispatcher for the actors that run consumer callbacks (CQ
 *     actors, each device's event actor)
 * @param cqPollBudget completions a CQ actor processes per turn before it yields
 * @param callbackWarningAfter {@code midlayer.callback-warning-after}
 * @param shutdownPhase {@code midlayer.shutdown.phase}
 * @param shutdownTimeout {@code midlayer.shutdown.timeout}
 */
public record MidlayerSettings(
    ContextCheckMode contextCheck,
    Duration clientAckWarningInterval,
    Duration unregisteredDeviceLinger,
    String controlDispatcher,
    String clientDispatcher,
    String dataPathDispatcher,
    String callbackDispatcher,
    int cqPollBudget,
    Duration callbackWarningAfter,
    String shutdownPhase,
    Duration shutdownTimeout) {

  /**
   * Reads the settings from a config that contains the {@code midlayer} section. Never blocks (the config
   * is already in memory); any thread.
   *
   * @throws IllegalArgumentException if a duration or count that must be positive is not
   */
  public static MidlayerSettings fromConfig(Config root) {
    Config c = root.getConfig("midlayer");
    return new MidlayerSettings(
        ContextCheckMode.parse(c.getString("context-check")),
        positive(c.getDuration("client-ack-warning-interval"), "midlayer.client-ack-warning-interval"),
        positive(c.getDuration("unregistered-device-linger"), "midlayer.unregistered-device-linger"),
        c.getString("dispatchers.control"),
        c.getString("dispatchers.client"),
        c.getString("dispatchers.data-path"),
        c.getString("dispatchers.callback"),
        positiveInt(c.getInt("cq.poll-budget"), "midlayer.cq.poll-budget"),
        positive(c.getDuration("callback-warning-after"), "midlayer.callback-warning-after"),
        c.getString("shutdown.phase"),
        positive(c.getDuration("shutdown.timeout"), "midlayer.shutdown.timeout"));
  }

  private static int positiveInt(int v, String key) {
    if (v <= 0) {
      throw new IllegalArgumentException(key + " must be positive, was " + v);
    }
    return v;
  }

  private static Duration positive(Duration d, String key) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(key + " must be positive, was " + d);
    }
    return d;
  }
}
