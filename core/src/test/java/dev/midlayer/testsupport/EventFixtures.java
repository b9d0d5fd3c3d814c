package dev.midlayer.testsupport;

import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Small helpers shared by the event, context, extension and driver-SPI tests. */
public final class EventFixtures {
  /** How long a test waits for something that should happen at once. */
  public static final Duration TIMEOUT = Duration.ofSeconds(10);

  private EventFixtures() {}

  /** The stage's value; fails the test if it failed or did not complete within {@link #TIMEOUT}. */
  public static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("stage failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("stage did not complete within " + TIMEOUT, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** What the stage failed with; fails the test if it succeeded or did not complete within {@link #TIMEOUT}. */
  public static Throwable awaitFailure(CompletionStage<?> stage) {
    Object value;
    try {
      value = stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      while (cause instanceof CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      return cause;
    } catch (TimeoutException e) {
      throw new AssertionError("stage did not complete within " + TIMEOUT, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    throw new AssertionError("stage succeeded with " + value + " but was expected to fail");
  }

  /** Throws any throwable, checked or not, without declaring it (what a non-Java handler can do). */
  @SuppressWarnings("unchecked")
  public static <E extends Throwable> RuntimeException sneakyThrow(Throwable t) throws E {
    throw (E) t;
  }
}
