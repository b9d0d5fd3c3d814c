package dev.midlayer.testkit.conformance;

/** {@link ConnectionManagerContract} on the loopback driver. */
class LoopbackConnectionManagerConformanceTest extends ConnectionManagerContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
