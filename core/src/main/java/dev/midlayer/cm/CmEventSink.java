package dev.midlayer.cm;

import dev.midlayer.ib.InvalidArgumentException;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Where the CM delivers the events of a listener or a connection: an actor (told, in order) or a callback (run
 * guarded on the consumer-callback dispatcher, see {@link CmEventHandler}). Immutable; the factories
 * never block, any thread.
 */
public sealed interface CmEventSink {
  /** Events are told to {@code ref}. A {@link CmEvent.ConnectRequest} it never answers times out at the peer. */
  record ToActor(ActorRef<CmEvent> ref) implements CmEventSink {
    public ToActor {
      InvalidArgumentException.requireNonNull(ref, "ref");
    }
  }

  /** Events are passed to {@code handler}, guarded. */
  record ToCallback(CmEventHandler handler) implements CmEventSink {
    public ToCallback {
      InvalidArgumentException.requireNonNull(handler, "handler");
    }
  }

  static CmEventSink of(ActorRef<CmEvent> ref) {
    return new ToActor(ref);
  }

  static CmEventSink of(CmEventHandler handler) {
    return new ToCallback(handler);
  }
}
