package dev.midlayer.internal;

import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Internal API. Completes the futures of asynchronous verbs from inside midlayer actors without running
 * the caller's continuations on the actor's thread: a continuation attached with {@code thenAccept}
 * runs on the completing thread, and a slow or blocking one must never stall the registry or a device.
 */
public final class Replies {
  private Replies() {}

  /**
   * Completes {@code future} with {@code value} on {@code executor}; a {@link ClientFuture} as the client that
   * called the verb, so the caller's continuations act for it.
   */
  public static <T> void complete(Executor executor, CompletableFuture<T> future, T value) {
    ClientId owner = ClientFuture.ownerOf(future);
    executor.execute(() -> ClientContext.runAs(owner, () -> future.complete(value)));
  }

  /** Fails {@code future} with {@code error} on {@code executor}, as {@link #complete} does. */
  public static void fail(Executor executor, CompletableFuture<?> future, Throwable error) {
    ClientId owner = ClientFuture.ownerOf(future);
    executor.execute(() -> ClientContext.runAs(owner, () -> future.completeExceptionally(error)));
  }
}
