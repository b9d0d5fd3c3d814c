package dev.midlayer.testkit.conformance;

/** {@link CqSizingContract} on the loopback driver. */
class LoopbackCqSizingConformanceTest extends CqSizingContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
