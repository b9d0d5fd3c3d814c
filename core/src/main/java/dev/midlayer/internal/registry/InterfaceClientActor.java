package dev.midlayer.internal.registry;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.internal.NonFatal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Internal API. The client actor that wraps a plain {@link Client}: it calls {@code add}/{@code remove}
 * one message at a time, turns exceptions into replies, and always replies so the registry never waits
 * on a client that threw.
 */
public final class InterfaceClientActor {
  private InterfaceClientActor() {}

  /** The behaviour for {@code client}. */
  public static Behavior<ClientMessage> create(Client client) {
    return Behaviors.setup(ctx -> Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, m -> {
          ClientMessage.AddReply reply;
          try {
            reply = client.add(m.device(), m.client())
                ? ClientMessage.AddReply.added()
                : ClientMessage.AddReply.declined("add returned false");
          } catch (Throwable e) {
            reply = ClientMessage.AddReply.failed(NonFatal.rethrowIfFatal(e));
          }
          m.replyTo().tell(reply);
          return Behaviors.same();
        })
        .onMessage(ClientMessage.DeviceRemoved.class, m -> {
          try {
            client.remove(m.device(), m.client(), m.clientData());
          } catch (Throwable e) {
            ctx.getLog().error("{} threw in remove of {}; the device is removed anyway",
                m.client(), m.device().name(), NonFatal.rethrowIfFatal(e));
          }
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .build());
  }
}
