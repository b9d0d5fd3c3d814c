package dev.midlayer.testkit.conformance;

/** {@link FmrContract} on the loopback driver. */
class LoopbackFmrConformanceTest extends FmrContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
