package dev.midlayer.internal.registry;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientMessage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

/** Internal API: the three ways a client can be given to the registry. */
public sealed interface ClientSource {
  /** A plain Java client; the registry wraps it in a client actor that it owns. */
  record Plain(Client client) implements ClientSource {}

  /** A typed behaviour; the registry spawns it on the client dispatcher and owns the actor. */
  record Spawned(Behavior<ClientMessage> behavior) implements ClientSource {}

  /** An actor the application already runs; the registry watches it but does not stop it. */
  record Existing(ActorRef<ClientMessage> ref) implements ClientSource {}
}
