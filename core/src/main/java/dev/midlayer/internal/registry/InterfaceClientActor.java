package dev.midlayer.internal.registry;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.internal.NonFatal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;
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
            // Acting for the client: what add creates belongs to it (ClientContext).
            reply = ClientContext.callAs(m.client(), () -> addAs(client, m))
                ? ClientMessage.AddReply.added()
                : ClientMessage.AddReply.declined("add returned false");
          } catch (Throwable e) {
            reply = ClientMessage.AddReply.failed(unwrap(NonFatal.rethrowIfFatal(e)));
          }
          m.replyTo().tell(reply);
          return Behaviors.same();
        })
        .onMessage(ClientMessage.DeviceRemoved.class, m -> {
          try {
            ClientContext.runAs(m.client(), () -> removeAs(client, m));
          } catch (Throwable e) {
            ctx.getLog().error("{} threw in remove of {}; the device is removed anyway",
                m.client(), m.device().name(), unwrap(NonFatal.rethrowIfFatal(e)));
          }
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .build());
  }

  private static boolean addAs(Client client, ClientMessage.DeviceAdded m) {
    try {
      return client.add(m.device(), m.client());
    } catch (Exception e) {
      throw new Thrown(e);
    }
  }

  private static void removeAs(Client client, ClientMessage.DeviceRemoved m) {
    try {
      client.remove(m.device(), m.client(), m.clientData());
    } catch (Exception e) {
      throw new Thrown(e);
    }
  }

  /** A checked exception of the client's add or remove, carried out of the context wrapper. */
  private static final class Thrown extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Thrown(Exception cause) {
      super(cause);
    }
  }

  private static Throwable unwrap(Throwable e) {
    return e instanceof Thrown t ? t.getCause() : e;
  }

  /**
   * Wraps a client given as a behaviour so that it acts for its {@code ClientId} while it handles any message:
   * what it creates belongs to it.
   */
  static Behavior<ClientMessage> actingAs(ClientId id, Behavior<ClientMessage> behavior) {
    return Behaviors.intercept(() -> new BehaviorInterceptor<ClientMessage, ClientMessage>(ClientMessage.class) {
      @Override
      public Behavior<ClientMessage> aroundReceive(TypedActorContext<ClientMessage> ctx, ClientMessage msg,
          ReceiveTarget<ClientMessage> target) {
        return ClientContext.callAs(id, () -> target.apply(ctx, msg));
      }
    }, behavior);
  }
}
