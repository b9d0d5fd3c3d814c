package dev.midlayer.testkit.broken;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import dev.midlayer.testkit.conformance.ConcurrencyContract;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import dev.midlayer.testkit.conformance.FlushContract;
import dev.midlayer.testkit.conformance.RcSendContract;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

/**
 * The five deliberately broken drivers ({@link BrokenDrivers}) each fail the conformance suite, each for its own
 * reason, named by the contract monitor in the failure; the same contract tests pass on the loopback driver. The
 * contract subclasses below are nested, so Surefire does not run them; EngineTestKit does.
 */
class BrokenDriversTest {
  static class InlineRcSend extends RcSendContract {
    @Override
    protected DriverUnderTest driver() {
      return BrokenDrivers.INLINE_COMPLETION.asDriverUnderTest();
    }
  }

  static class BlockingRcSend extends RcSendContract {
    @Override
    protected DriverUnderTest driver() {
      return BrokenDrivers.BLOCKING_POST.asDriverUnderTest();
    }
  }

  static class DoubleRcSend extends RcSendContract {
    @Override
    protected DriverUnderTest driver() {
      return BrokenDrivers.DOUBLE_COMPLETION.asDriverUnderTest();
    }
  }

  static class ConcurrentHandlers extends ConcurrencyContract {
    @Override
    protected DriverUnderTest driver() {
      return BrokenDrivers.CONCURRENT_HANDLERS.asDriverUnderTest();
    }
  }

  static class LostFlush extends FlushContract {
    @Override
    protected DriverUnderTest driver() {
      return BrokenDrivers.LOST_FLUSH.asDriverUnderTest();
    }
  }

  static class LoopbackRcSend extends RcSendContract {
    @Override
    protected DriverUnderTest driver() {
      return DriverUnderTest.loopback();
    }
  }

  static class LoopbackConcurrency extends ConcurrencyContract {
    @Override
    protected DriverUnderTest driver() {
      return DriverUnderTest.loopback();
    }
  }

  static class LoopbackFlush extends FlushContract {
    @Override
    protected DriverUnderTest driver() {
      return DriverUnderTest.loopback();
    }
  }

  /** Runs one contract test; returns the text of every failure (messages, causes and suppressed ones). */
  private static List<String> run(Class<?> contract, String method) {
    Events events = EngineTestKit.engine("junit-jupiter").selectors(selectMethod(contract, method)).execute()
        .testEvents();
    assertEquals(1, events.started().count(), "the contract test " + method + " ran");
    List<String> failures = new ArrayList<>();
    events.failed().stream().forEach(e -> e.getRequiredPayload(TestExecutionResult.class).getThrowable()
        .ifPresent(t -> collect(t, failures)));
    return failures;
  }

  private static void collect(Throwable t, List<String> out) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      out.add(c.getClass().getSimpleName() + ": " + c.getMessage());
      for (Throwable s : c.getSuppressed()) {
        collect(s, out);
      }
    }
  }

  private static void assertFailsFor(Class<?> broken, Class<?> control, String method, String reason) {
    assertEquals(List.of(), run(control, method), "the loopback driver passes " + method);
    List<String> failures = run(broken, method);
    assertTrue(failures.stream().anyMatch(f -> f.contains(reason)),
        () -> broken.getSimpleName() + " must fail " + method + " with " + reason + "; it failed with " + failures);
  }

  @Test
  @DisplayName("a driver that completes inside postSend fails: C8, the completion was not deferred")
  void inlineCompletion() {
    assertFailsFor(InlineRcSend.class, LoopbackRcSend.class, "allSignaledCompletesEverySend",
        "[C8 check 1 NOT_DEFERRED] the driver produced a SUCCESS completion of send");
  }

  @Test
  @DisplayName("a driver that runs two handlers of a CQ at once fails: C9")
  void concurrentHandlers() {
    assertFailsFor(ConcurrentHandlers.class, LoopbackConcurrency.class, "oneHandlerAtATime",
        "[C9 check 2 CONCURRENT_CQ_HANDLERS]");
  }

  @Test
  @DisplayName("a driver that blocks in postSend fails: C1, a blocking call inside ib_post_send")
  void blockingPost() {
    assertFailsFor(BlockingRcSend.class, LoopbackRcSend.class, "allSignaledCompletesEverySend",
        "[C1 check 4 BLOCKING] blocking call jdk.internal.misc.Unsafe#park inside ib_post_send");
  }

  @Test
  @DisplayName("a driver that completes a work request twice fails: exactly once (a second completion)")
  void doubleCompletion() {
    assertFailsFor(DoubleRcSend.class, LoopbackRcSend.class, "allSignaledCompletesEverySend",
        "[EXACTLY_ONCE check 8 NOT_EXACTLY_ONCE] work request wr_id");
  }

  @Test
  @DisplayName("a driver that loses the flush of outstanding work requests on ERR fails: exactly once (never)")
  void lostFlush() {
    assertFailsFor(LostFlush.class, LoopbackFlush.class, "modifyToErrFlushesEverything", "never completed");
  }
}
