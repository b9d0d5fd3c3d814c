package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventHandler;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.internal.CallbackGuard;
import dev.midlayer.internal.CallbackWatch;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.LogMdc;
import java.util.Map;
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
    // The device, port and QP of the event on each delivery's lines: a throwing handler's, the handler's own.
    return Behaviors.withMdc(Deliver.class, CmCallbacks::mdc, Behaviors.setup(ctx -> {
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
    }));
  }

  /** The MDC of a delivery: what its event is about. */
  private static Map<String, String> mdc(Deliver d) {
    CmEvent e = d.event();
    if (e instanceof CmEvent.ConnectRequest r) {
      return LogMdc.of(r.listener().device(), r.listener().port(), null);
    }
    if (e instanceof CmEvent.SidrRequest r) {
      return LogMdc.of(r.listener().device(), r.listener().port(), null);
    }
    if (e instanceof CmEvent.DeviceRemoval r && r.listener() != null) {
      return LogMdc.of(r.listener().device(), r.listener().port(), null);
    }
    CmConnection c = e instanceof CmEvent.Established x ? x.connection()
        : e instanceof CmEvent.Rejected x ? x.connection()
        : e instanceof CmEvent.Unreachable x ? x.connection()
        : e instanceof CmEvent.Disconnected x ? x.connection()
        : e instanceof CmEvent.DeviceRemoval x ? x.connection()
        : e instanceof CmEvent.TimewaitExit x ? x.connection()
        : null;
    return c == null ? Map.of() : LogMdc.of(c.device(), c.port(), c.qp());
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
