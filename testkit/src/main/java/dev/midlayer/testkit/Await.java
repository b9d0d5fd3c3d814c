package dev.midlayer.testkit;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;
import org.awaitility.core.ThrowingRunnable;

/**
 * Waiting in tests without sleeping: for a condition to become true ({@link #eventually}, {@link #within}), for
 * one to stay true ({@link #stays}), for a stage to stay pending ({@link #staysPending}), and for a stage's value
 * or failure ({@link #result}, {@link #failure}). Built on Awaitility; every check polls the real state and fails
 * with an {@link AssertionError} that says what it waited for and what it saw last.
 *
 * <p>The default deadline is {@link #DEFAULT_TIMEOUT}: 10 s, or {@code -Dmidlayer.test.timeout} (an ISO-8601
 * duration such as {@code PT30S}, or seconds). All methods <b>block the calling thread</b> (the test's thread);
 * never call them from a callback, an actor or a non-sleeping path.
 */
public final class Await {
  /** The deadline of the methods that take none: {@code -Dmidlayer.test.timeout}, default 10 s. */
  public static final Duration DEFAULT_TIMEOUT = timeoutFrom(System.getProperty("midlayer.test.timeout"));

  private static final Duration POLL = Duration.ofMillis(5);

  private Await() {}

  /** Waits until {@code assertion} passes, up to {@link #DEFAULT_TIMEOUT}. Blocks the caller. */
  public static void eventually(ThrowingRunnable assertion) {
    within(DEFAULT_TIMEOUT, assertion);
  }

  /**
   * Waits until {@code assertion} passes, up to {@code timeout}; fails with its last failure otherwise. Blocks the
   * caller until then.
   */
  public static void within(Duration timeout, ThrowingRunnable assertion) {
    try {
      poll().atMost(timeout).untilAsserted(assertion);
    } catch (ConditionTimeoutException e) {
      throw failed("not true within " + timeout, e);
    }
  }

  /**
   * Checks that {@code assertion} holds now and keeps holding for {@code duration} (polled throughout): the
   * negative check "nothing happens meanwhile". It can only show that nothing happened within the duration;
   * prefer a positive event where there is one. Blocks the caller for {@code duration}.
   */
  public static void stays(Duration duration, ThrowingRunnable assertion) {
    try {
      assertion.run();
    } catch (Throwable t) {
      throw failed("not true at the start of " + duration, t);
    }
    try {
      // The moment the assertion fails, failFast ends the wait; atMost leaves room for a slow machine only.
      poll().during(duration).atMost(duration.plus(DEFAULT_TIMEOUT)).failFast("broke", assertion)
          .untilAsserted(assertion);
    } catch (TerminalFailureException | ConditionTimeoutException e) {
      throw failed("did not stay true for " + duration, e);
    }
  }

  /** Checks that {@code stage} is still pending after {@code duration}. Blocks the caller for {@code duration}. */
  public static void staysPending(Duration duration, CompletionStage<?> stage) {
    stays(duration, () -> {
      if (stage.toCompletableFuture().isDone()) {
        throw new AssertionError("completed: " + describe(stage));
      }
    });
  }

  /** The value of {@code stage}, waited for up to {@link #DEFAULT_TIMEOUT}. Blocks the caller. */
  public static <T> T result(CompletionStage<T> stage) {
    return result(DEFAULT_TIMEOUT, stage);
  }

  /**
   * The value of {@code stage}, waited for up to {@code timeout}; fails if it failed or is still pending.
   * Blocks the caller until the stage completes or {@code timeout} passes.
   */
  public static <T> T result(Duration timeout, CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      throw failed("expected a value, but the stage failed", e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("expected a value within " + timeout + ", but the stage is still pending");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failed("interrupted while waiting for a value", e);
    }
  }

  /** The failure of {@code stage} (unwrapped), waited for up to {@link #DEFAULT_TIMEOUT}. Blocks the caller. */
  public static Throwable failure(CompletionStage<?> stage) {
    return failure(DEFAULT_TIMEOUT, stage, Throwable.class);
  }

  /**
   * The failure of {@code stage}, which must be an {@code expected}, waited for up to {@code timeout}; fails if
   * the stage completed normally, failed with something else, or is still pending. Blocks the caller.
   */
  public static <E extends Throwable> E failure(Duration timeout, CompletionStage<?> stage, Class<E> expected) {
    Object value;
    try {
      value = stage.toCompletableFuture().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable cause = unwrap(e.getCause());
      if (expected.isInstance(cause)) {
        return expected.cast(cause);
      }
      throw failed("expected a " + expected.getName() + ", but the stage failed with " + cause, cause);
    } catch (TimeoutException e) {
      throw new AssertionError("expected a failure within " + timeout + ", but the stage is still pending");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failed("interrupted while waiting for a failure", e);
    }
    throw new AssertionError("expected a " + expected.getName() + ", but the stage completed with " + value);
  }

  private static ConditionFactory poll() {
    // The assertion runs on the caller's thread, from at once, every 5 ms.
    return Awaitility.await().pollInSameThread().pollDelay(Duration.ZERO).pollInterval(POLL);
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static AssertionError failed(String what, Throwable cause) {
    Throwable last = (cause instanceof ConditionTimeoutException || cause instanceof TerminalFailureException)
        && cause.getCause() != null ? cause.getCause() : cause;
    return new AssertionError(what + ": " + last.getMessage(), last);
  }

  private static String describe(CompletionStage<?> stage) {
    var f = stage.toCompletableFuture();
    try {
      return "value " + f.getNow(null);
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      return "failure " + unwrap(e);
    }
  }

  static Duration timeoutFrom(String property) {
    if (property == null || property.isBlank()) {
      return Duration.ofSeconds(10);
    }
    try {
      return property.chars().allMatch(Character::isDigit) ? Duration.ofSeconds(Long.parseLong(property))
          : Duration.parse(property);
    } catch (DateTimeParseException | NumberFormatException e) {
      throw new IllegalArgumentException("-Dmidlayer.test.timeout=" + property
          + " is neither a number of seconds nor an ISO-8601 duration such as PT30S", e);
    }
  }
}
