package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Each helper of {@link Await} passes on the real event and fails, saying why, without it. */
class AwaitTest {
  private static final Duration SHORT = Duration.ofMillis(200);

  @Test
  @DisplayName("within passes once the condition becomes true on another thread, and fails with its last failure")
  void within() {
    AtomicInteger n = new AtomicInteger();
    CompletableFuture.runAsync(() -> n.set(3));
    Await.within(Duration.ofSeconds(10), () -> assertEquals(3, n.get()));
    AssertionError e = assertThrows(AssertionError.class,
        () -> Await.within(SHORT, () -> assertEquals(4, n.get(), "n")));
    assertTrue(e.getMessage().contains("not true within") && e.getMessage().contains("n ==> expected: <4>"),
        e.getMessage());
  }

  @Test
  @DisplayName("stays passes while the condition holds for the duration, and fails when it breaks on the way")
  void stays() {
    AtomicInteger n = new AtomicInteger();
    Await.stays(SHORT, () -> assertEquals(0, n.get()));
    assertThrows(AssertionError.class, () -> Await.stays(SHORT, () -> assertEquals(1, n.get())),
        "false from the start");
    CompletableFuture<Void> breaker = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      breaker.join();
      n.set(5);
    });
    t.start();
    AtomicInteger checks = new AtomicInteger();
    AssertionError e = assertThrows(AssertionError.class, () -> Await.stays(Duration.ofSeconds(5), () -> {
      if (checks.incrementAndGet() == 2) {
        breaker.complete(null); // after the first check: the condition breaks while stays watches it
      }
      assertEquals(0, n.get());
    }));
    assertTrue(e.getMessage().contains("did not stay true"), e.getMessage());
  }

  @Test
  @DisplayName("staysPending passes for a pending stage and fails, naming the value, for a completed one")
  void staysPending() {
    Await.staysPending(SHORT, new CompletableFuture<>());
    AssertionError e = assertThrows(AssertionError.class,
        () -> Await.staysPending(SHORT, CompletableFuture.completedFuture("done")));
    assertTrue(e.getMessage().contains("value done"), e.getMessage());
  }

  @Test
  @DisplayName("result returns the value, and fails on a failed or a pending stage")
  void result() {
    assertEquals("v", Await.result(CompletableFuture.completedFuture("v")));
    IllegalStateException cause = new IllegalStateException("broken");
    AssertionError failed = assertThrows(AssertionError.class,
        () -> Await.result(CompletableFuture.failedFuture(cause)));
    assertSame(cause, failed.getCause());
    AssertionError pending = assertThrows(AssertionError.class, () -> Await.result(SHORT, new CompletableFuture<>()));
    assertTrue(pending.getMessage().contains("still pending"), pending.getMessage());
  }

  @Test
  @DisplayName("failure returns the unwrapped failure, and fails on a value, a pending stage or another type")
  void failure() {
    IllegalStateException cause = new IllegalStateException("broken");
    assertSame(cause, Await.failure(CompletableFuture.failedFuture(cause)));
    assertSame(cause, Await.failure(CompletableFuture.supplyAsync(() -> {
      throw cause;
    })), "a CompletionException is unwrapped");
    assertSame(cause, Await.failure(SHORT, CompletableFuture.failedFuture(cause), IllegalStateException.class));
    AssertionError value = assertThrows(AssertionError.class,
        () -> Await.failure(CompletableFuture.completedFuture("v")));
    assertTrue(value.getMessage().contains("completed with v"), value.getMessage());
    AssertionError other = assertThrows(AssertionError.class,
        () -> Await.failure(SHORT, CompletableFuture.failedFuture(cause), IllegalArgumentException.class));
    assertInstanceOf(IllegalStateException.class, other.getCause());
    assertThrows(AssertionError.class, () -> Await.failure(SHORT, new CompletableFuture<>(), Throwable.class));
  }

  @Test
  @DisplayName("-Dmidlayer.test.timeout takes seconds or an ISO-8601 duration, and names a bad value")
  void timeoutProperty() {
    assertEquals(Duration.ofSeconds(10), Await.timeoutFrom(null));
    assertEquals(Duration.ofSeconds(30), Await.timeoutFrom("30"));
    assertEquals(Duration.ofMinutes(2), Await.timeoutFrom("PT2M"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Await.timeoutFrom("soon"));
    assertTrue(e.getMessage().contains("midlayer.test.timeout=soon"), e.getMessage());
  }
}
