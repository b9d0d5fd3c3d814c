package dev.midlayer.testkit.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.testkit.MidlayerTestKit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * The base of every conformance contract: a fresh midlayer per test ({@link MidlayerTestKit}, made with
 * {@link DriverUnderTest#config()} in {@code @BeforeEach} and shut down in {@code @AfterEach}, which fails the
 * test on what the kit checks), and the contract's {@link ConformanceFixture} {@link #f}. A driver author
 * extends each contract with one method:
 *
 * <pre>{@code
 * class MyDriverRcSendConformanceTest extends RcSendContract {
 *   @Override protected DriverUnderTest driver() { return new MyDriverUnderTest(); }
 * }
 * }</pre>
 *
 * <p>Test methods and hooks run on JUnit's thread; the fixture's helpers may sleep and must not be called
 * from midlayer callbacks.
 */
public abstract class DriverContract {
  /** The fixture of the running test: its midlayer, devices and helpers. Set before each test. */
  protected ConformanceFixture f;

  private final List<ConformanceFixture> others = new ArrayList<>();

  /** The driver this contract certifies. Called once per test, from the test's thread. */
  protected abstract DriverUnderTest driver();

  /** Configuration a contract needs on top of the driver's for every test (default: none). */
  protected Config contractConfig() {
    return ConfigFactory.empty();
  }

  @BeforeEach
  final void startMidlayer() {
    f = new ConformanceFixture(driver(), contractConfig());
  }

  @AfterEach
  final void stopMidlayer() {
    try {
      for (ConformanceFixture o : others) {
        o.close();
      }
    } finally {
      f.close();
    }
  }

  /** The running test's midlayer. */
  protected MidlayerTestKit kit() {
    return f.kit();
  }

  /**
   * Replaces the test's midlayer by one with {@code extra} on top of the driver's config (e.g. dispatcher
   * sizes), shutting the first down (and checking it). May sleep: test thread.
   */
  protected ConformanceFixture restart(Config extra) {
    f.close();
    f = new ConformanceFixture(driver(), extra.withFallback(contractConfig()));
    return f;
  }

  /** A second midlayer with {@code extra} on top, closed (and checked) after the test. May sleep: test thread. */
  protected ConformanceFixture another(Config extra) {
    ConformanceFixture o = new ConformanceFixture(driver(), extra.withFallback(contractConfig()));
    others.add(o);
    return o;
  }

  /** Skips the test unless the driver applies fault plans. */
  protected void assumeFaultInjection() {
    assumeTrue(driver().supportsFaultInjection(), () -> driver().name() + " has no fault injection");
  }

  /** Skips the test unless the driver can raise a fatal device error. */
  protected void assumeFatalError() {
    assumeTrue(driver().supportsFatalError(), () -> driver().name() + " cannot raise a fatal error");
  }

  /** Skips the test unless the driver can take links down and up. */
  protected void assumeLinkControl() {
    assumeTrue(driver().supportsLinkControl(), () -> driver().name() + " has no link control");
  }
}
