package dev.midlayer.testkit;

import dev.midlayer.client.ClientId;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * Assertions on the warnings and errors the midlayer logs, through Pekko's {@link LoggingTestKit}: each runs
 * {@code code} and fails unless the log line came (within Pekko's
 * {@code pekko.actor.testkit.typed.filter-leeway}). They name what the line is about, so a test does not depend
 * on the wording. Each blocks the test thread: never call one from a callback.
 */
public final class MidlayerLogs {
  private MidlayerLogs() {}

  /**
   * Expects the report of one object {@code client} left on {@code device} when its remove returned;
   * {@code object} is how its description starts, e.g. {@code "PD"}, {@code "CQ #3"}, {@code "RC QP"}.
   */
  public static <T> T expectLeftover(ActorSystem<?> system, ClientId client, String device, String object,
      Supplier<T> code) {
    return LoggingTestKit.warn(" of " + client + " on " + device + " was left after its remove returned")
        .withMessageRegex(Pattern.quote(object) + ".*").expect(system, code::get);
  }

  /** Expects the warning that {@code client} has not finished its add or remove of {@code device}. */
  public static <T> T expectAckWarning(ActorSystem<?> system, ClientId client, String device, Supplier<T> code) {
    return LoggingTestKit.warn(client + " has not finished").withMessageContains("of device " + device + " ")
        .expect(system, code::get);
  }

  /**
   * Expects the watchdog's warning about a callback running longer than {@code midlayer.callback-warning-after};
   * {@code callback} is part of its description, e.g. {@code "event handler 'mine' on lo0"}.
   */
  public static <T> T expectSlowCallback(ActorSystem<?> system, String callback, Supplier<T> code) {
    return LoggingTestKit.warn("has been running for").withMessageContains(callback).expect(system, code::get);
  }

  /** Expects the error logged when a consumer callback threw; {@code callback} is part of its description. */
  public static <T> T expectCallbackThrew(ActorSystem<?> system, String callback, Supplier<T> code) {
    return LoggingTestKit.error(" threw").withMessageContains(callback).expect(system, code::get);
  }
}
