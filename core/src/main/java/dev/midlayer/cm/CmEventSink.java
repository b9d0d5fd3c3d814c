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
    /** Checks {@code ref} is not null. */
    public ToActor {
      InvalidArgumentException.requireNonNull(ref, "ref");
    }
  }

  /** Events are passed to {@code handler}, guarded. */
  record ToCallback(CmEventHandler handler) implements CmEventSink {
    /** Checks {@code handler} is not null. */
    public ToCallback {
      InvalidArgumentException.requireNonNull(handler, "handler");
    }
  }

  /** A {@link ToActor} sink. */
  static CmEventSink of(ActorRef<CmEvent> ref) {
    return new ToActor(ref);
  }

  /** A {@link ToCallback} sink. */
  static CmEventSink of(CmEventHandler handler) {
    return new ToCallback(handler);
  }
}
