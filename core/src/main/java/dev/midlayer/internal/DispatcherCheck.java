package dev.midlayer.internal;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Internal API. What the midlayer checks of its dispatchers at start, and how it keeps them ready. The
 * dispatchers that non-sleeping verbs tell (the data path, the consumer callbacks) must run on an executor
 * whose {@code execute} never parks and never starts a thread on the caller's thread: Pekko's
 * {@code thread-pool-executor} takes its queue's lock and starts workers on the caller,
 * {@code fork-join-executor} starts a worker on the caller once its idle ones retired (after a fixed 60 s).
 * Each dispatcher gets an actor for the midlayer's lifetime, so Pekko never discards its executor (which the
 * next user would then create, on its own thread), and its executor is created at start.
 */
public final class DispatcherCheck {
  /** Executors whose workers are started once and never retire, and whose submission takes no lock that parks. */
  static final Set<String> NON_BLOCKING_EXECUTORS = Set.of(
      "dev.midlayer.dispatch.PrestartedForkJoinExecutor", "dev.midlayer.dispatch.BackoffExecutor",
      "affinity-pool-executor");

  private DispatcherCheck() {}

  /**
   * Throws {@link ConfigException.BadValue} naming {@code settingKey}, the dispatcher and its executor, unless
   * the dispatcher at {@code path} runs on one of {@link #NON_BLOCKING_EXECUTORS}.
   */
  public static void requireNonBlocking(Config root, String settingKey, String path) {
    String id = path;
    for (int i = 0; i < 20 && root.hasPath(id) && root.getValue(id).valueType() == ConfigValueType.STRING; i++) {
      id = root.getString(id); // an alias, as Pekko's Dispatchers resolves them
    }
    if (!root.hasPath(id) || root.getValue(id).valueType() != ConfigValueType.OBJECT) {
      throw new ConfigException.BadValue(settingKey, "dispatcher '" + path + "' is not configured");
    }
    Config d = root.getConfig(id).withFallback(root.getConfig("pekko.actor.default-dispatcher"));
    String type = d.getString("type");
    String executor = d.getString("executor");
    if (executor.equals("default-executor")) {
      executor = d.getString("default-executor.fallback");
    }
    if (!type.equals("Dispatcher") || !NON_BLOCKING_EXECUTORS.contains(executor)) {
      throw new ConfigException.BadValue(settingKey, "dispatcher '" + path + "' is a " + type + " on " + executor
          + "; postSend, postRecv, dispatch_event and drivers adding completions send to it from any thread, "
          + "so it must never park or start a thread on the caller: use type = Dispatcher and executor = one of "
          + NON_BLOCKING_EXECUTORS);
    }
  }

  /** Creates the dispatcher's executor now and keeps one actor on it for the system's lifetime. */
  public static void keepReady(ActorSystem<?> system, String path, String anchorName) {
    DispatcherSelector selector = DispatcherSelector.fromConfig(path);
    system.systemActorOf(Behaviors.empty(), anchorName, selector);
    system.dispatchers().lookup(selector).execute(() -> { });
  }
}
