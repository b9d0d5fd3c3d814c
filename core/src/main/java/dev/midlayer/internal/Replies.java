package dev.midlayer.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Internal API. Completes the futures of asynchronous verbs from inside midlayer actors without running
 * the caller's continuations on the actor's thread: a continuation attached with {@code thenAccept}
 * runs on the completing thread, and a slow or blocking one must never stall the registry or a device.
 */
public final class Replies {
  private Replies() {}

  /** Completes {@code future} with {@code value} on {@code executor}. */
  public static <T> void complete(Executor executor, CompletableFuture<T> future, T value) {
    executor.execute(() -> future.complete(value));
  }

  /** Fails {@code future} with {@code error} on {@code executor}. */
  public static void fail(Executor executor, CompletableFuture<?> future, Throwable error) {
    executor.execute(() -> future.completeExceptionally(error));
  }
}
