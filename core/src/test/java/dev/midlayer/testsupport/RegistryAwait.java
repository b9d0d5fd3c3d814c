package dev.midlayer.testsupport;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/** Bounded waits for the registry tests: never sleep, always wait on the thing itself with a timeout. */
public final class RegistryAwait {
  /** Generous upper bound for one registry operation; a correct run takes milliseconds. */
  public static final Duration TIMEOUT = Duration.ofSeconds(10);

  private RegistryAwait() {}

  /** The stage's value; fails the test if it fails or does not complete within {@link #TIMEOUT}. */
  public static <T> T await(CompletionStage<T> stage) {
    return await(stage, "stage");
  }

  /** As {@link #await(CompletionStage)}, naming the stage in the failure message. */
  public static <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return fail(what + " did not complete within " + TIMEOUT);
    } catch (ExecutionException e) {
      return fail(what + " failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail("interrupted waiting for " + what);
    }
  }

  /** The exception the stage failed with; fails the test if it succeeds or does not complete in time. */
  public static Throwable failure(CompletionStage<?> stage) {
    try {
      Object v = stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      return fail("expected the stage to fail, but it completed with " + v);
    } catch (TimeoutException e) {
      return fail("stage did not complete within " + TIMEOUT);
    } catch (ExecutionException e) {
      return unwrap(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail("interrupted");
    }
  }

  /** The stage fails with {@code type}; returns the exception. */
  public static <X extends Throwable> X assertFailsWith(Class<X> type, CompletionStage<?> stage) {
    return assertInstanceOf(type, failure(stage));
  }

  /**
   * The verb fails with {@code type}, either by throwing it at once or through its stage: the two ways
   * a midlayer verb reports an error.
   */
  public static <X extends Throwable> X assertVerbFails(Class<X> type, Supplier<? extends CompletionStage<?>> verb) {
    CompletionStage<?> stage;
    try {
      stage = verb.get();
    } catch (RuntimeException e) {
      return assertInstanceOf(type, e, "thrown by the verb");
    }
    return assertInstanceOf(type, failure(stage), "failure of the verb's stage");
  }

  /** Waits for the latch; fails the test if it is not released within {@link #TIMEOUT}. */
  public static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), what + " did not happen within " + TIMEOUT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted waiting for " + what);
    }
  }

  /** Blocks a client callback on the latch (bounded, so a broken test cannot hang the build). */
  public static void block(CountDownLatch latch) throws InterruptedException {
    if (!latch.await(TIMEOUT.toMillis() * 3, TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("the test never released the latch");
    }
  }

  /** The stage is not complete yet. */
  public static void assertNotDone(CompletionStage<?> stage, String what) {
    assertFalse(stage.toCompletableFuture().isDone(), what + " should not be complete yet");
  }

  private static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
