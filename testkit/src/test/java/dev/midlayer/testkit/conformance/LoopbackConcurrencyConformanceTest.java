package dev.midlayer.testkit.conformance;

/** {@link ConcurrencyContract} on the loopback driver. */
class LoopbackConcurrencyConformanceTest extends ConcurrencyContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
