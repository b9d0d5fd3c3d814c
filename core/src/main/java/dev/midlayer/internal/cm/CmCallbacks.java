package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventHandler;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.internal.CallbackGuard;
import dev.midlayer.internal.CallbackWatch;
import dev.midlayer.internal.CallbackWatchdog;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Internal API. Delivers CM events: told to an actor sink, or run on this actor (on the consumer-callback
 * dispatcher) for a callback sink, guarded as core runs every consumer callback ({@link CallbackGuard}: atomic
 * context, watched, a throw logged and the CM goes on). One actor per CM, so a CM's callbacks run one at a time,
 * in the order they were raised.
 */
final class CmCallbacks {
  private static final Logger log = LoggerFactory.getLogger(CmCallbacks.class);

  /** Run {@code handler} with {@code event}; if it throws, run {@code onThrow} (may be null). */
  record Deliver(CmEventHandler handler, CmEvent event, Runnable onThrow) {}

  private final ActorRef<Deliver> actor;

  CmCallbacks(ActorRef<Deliver> actor) {
    this.actor = actor;
  }

  static Behavior<Deliver> behavior(CallbackWatchdog watchdog) {
    return Behaviors.setup(ctx -> {
      CallbackWatch watch = watchdog.watch();
      return Behaviors.receive(Deliver.class)
          .onMessage(Deliver.class, d -> {
            boolean ok = CallbackGuard.call(watch, "CM event handler " + d.handler(), d.event(), log,
                () -> {
                  try {
                    d.handler().onEvent(d.event());
                  } catch (RuntimeException e) {
                    throw e;
                  } catch (Exception e) {
                    throw new RuntimeException(e);
                  }
                });
            if (!ok && d.onThrow() != null) {
              d.onThrow().run();
            }
            return Behaviors.same();
          })
          .onSignal(org.apache.pekko.actor.typed.PostStop.class, s -> {
            watchdog.forget(watch);
            return Behaviors.same();
          })
          .build();
    });
  }

  /** Delivers {@code event} to {@code sink} (null: nowhere). Never blocks; any thread. */
  void deliver(CmEventSink sink, CmEvent event, Runnable onThrow) {
    if (sink instanceof CmEventSink.ToActor a) {
      a.ref().tell(event);
    } else if (sink instanceof CmEventSink.ToCallback c) {
      actor.tell(new Deliver(c.handler(), event, onThrow));
    }
  }

  void deliver(CmEventSink sink, CmEvent event) {
    deliver(sink, event, null);
  }
}
