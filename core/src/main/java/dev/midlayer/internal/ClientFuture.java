package dev.midlayer.internal;

import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import java.util.concurrent.CompletableFuture;

/**
 * Internal API. The result of a may-sleep verb, remembering which client called it
 * ({@link ClientContext#current()} on the calling thread): the verb's body runs on the device actor as that
 * client (so what it creates belongs to it), and {@link Replies} completes the future as that client, so the
 * continuations a caller attaches ({@code thenCompose(pd -> device.createCq(...))}) act for it too.
 */
public final class ClientFuture<T> extends CompletableFuture<T> {
  private final ClientId owner = ClientContext.current();

  /** The client that called the verb, or null. */
  public ClientId owner() {
    return owner;
  }

  /** The owner of {@code future} if it is a {@link ClientFuture}, else null. */
  public static ClientId ownerOf(CompletableFuture<?> future) {
    return future instanceof ClientFuture<?> c ? c.owner : null;
  }

  @Override
  public <U> CompletableFuture<U> newIncompleteFuture() {
    return new CompletableFuture<>();
  }
}
