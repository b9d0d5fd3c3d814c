package dev.midlayer.internal;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Internal API. Warns when a consumer callback runs longer than {@code midlayer.callback-warning-after}
 * (callbacks run in atomic context and must not sleep): the warning names the callback, its object, its
 * device and its client, and repeats, like the registry's warning about a client that does not acknowledge,
 * for as long as the callback runs. It looks at every {@link CallbackWatch} a quarter of that period; the
 * callbacks themselves pay two volatile writes.
 */
public final class CallbackWatchdog {
  private static final Logger log = LoggerFactory.getLogger(CallbackWatchdog.class);
  private final Set<CallbackWatch> watches = ConcurrentHashMap.newKeySet();
  private final long thresholdNanos;
  private final Cancellable task;

  public CallbackWatchdog(ActorSystem<?> system, Duration threshold) {
    this.thresholdNanos = threshold.toNanos();
    Duration period = Duration.ofNanos(Math.max(TimeUnit.MILLISECONDS.toNanos(10), thresholdNanos / 4));
    this.task = system.scheduler().scheduleWithFixedDelay(period, period, this::look, system.executionContext());
  }

  /** A new watch, looked at until {@link #forget}. Any thread. */
  public CallbackWatch watch() {
    CallbackWatch w = new CallbackWatch();
    watches.add(w);
    return w;
  }

  /** Stops looking at {@code watch} (its actor stopped). Any thread. */
  public void forget(CallbackWatch watch) {
    watches.remove(watch);
  }

  private void look() {
    long now = System.nanoTime();
    for (CallbackWatch w : watches) {
      String running = w.running();
      if (running == null) {
        continue;
      }
      long since = w.sinceNanos();
      long ran = now - since;
      if (ran >= thresholdNanos && now - Math.max(w.warnedAtNanos, since) >= thresholdNanos
          && running == w.running()) {
        w.warnedAtNanos = now;
        dev.midlayer.internal.jfr.MidlayerEvents.slowCallback(running, ran);
        log.warn("{} has been running for {} ms: callbacks run in atomic context and must not block (its "
            + "actor's other callbacks wait for it)", running, TimeUnit.NANOSECONDS.toMillis(ran));
      }
    }
  }

  /** Stops the watchdog (the midlayer's system terminates). */
  public void stop() {
    task.cancel();
  }
}
