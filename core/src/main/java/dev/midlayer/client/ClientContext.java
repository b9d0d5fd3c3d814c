package dev.midlayer.client;

import dev.midlayer.ib.InvalidArgumentException;
import java.util.function.Supplier;

/**
 * Which client the calling thread acts for: the owner of the objects it creates. Every object and event
 * handler created while a client acts belongs to that (client, device) pair, and objects made in a protection
 * domain belong to the PD's owner; when the client's {@code remove} for the device returns, whatever of it is
 * left is reported and reclaimed, and none of its callbacks runs afterwards (the seed: "a consumer must finish
 * all cleanup ... before returning from the remove method").
 *
 * <p>The midlayer sets it for you: during a plain {@link Client}'s {@code add} and {@code remove}, during every
 * message of a client given as a {@code Behavior<ClientMessage>}, and in the continuations of the stages that
 * the midlayer's may-sleep verbs return (a {@code thenApply} or {@code thenCompose} attached to them runs as the
 * client that called the verb). Code that creates objects for a client from elsewhere (an actor the
 * application registered with {@code registerClient(name, ActorRef)}, another thread) wraps that code in
 * {@link #runAs} or {@link #callAs}. Objects created outside any client belong to their device, and are
 * reported and reclaimed when it is unregistered.
 *
 * <p>Threading: every method acts on the calling thread only; any thread; never blocks.
 */
public final class ClientContext {
  private static final ThreadLocal<ClientId> CURRENT = new ThreadLocal<>();

  private ClientContext() {}

  /** The client the calling thread acts for, or null. */
  public static ClientId current() {
    return CURRENT.get();
  }

  /** Runs {@code body} with the calling thread acting for {@code client} (null: for none); restores the previous one. */
  public static void runAs(ClientId client, Runnable body) {
    InvalidArgumentException.requireNonNull(body, "body");
    ClientId outer = CURRENT.get();
    set(client);
    try {
      body.run();
    } finally {
      set(outer);
    }
  }

  /** As {@link #runAs}, returning what {@code body} returns. */
  public static <T> T callAs(ClientId client, Supplier<T> body) {
    InvalidArgumentException.requireNonNull(body, "body");
    ClientId outer = CURRENT.get();
    set(client);
    try {
      return body.get();
    } finally {
      set(outer);
    }
  }

  private static void set(ClientId client) {
    if (client == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(client);
    }
  }
}
