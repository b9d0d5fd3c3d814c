package dev.midlayer.internal.cm;

import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. What every actor of one CM shares: settings, the transport, event delivery, the executor that
 * completes consumers' stages (never a CM actor's thread), and the CM actor. Immutable; any thread.
 */
record CmContext(CmSettings settings, CmTransport transport, CmCallbacks callbacks, Executor replies,
    ActorRef<CmActor.Command> cm) {}
