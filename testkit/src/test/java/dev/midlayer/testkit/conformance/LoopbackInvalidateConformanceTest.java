package dev.midlayer.testkit.conformance;

/** {@link InvalidateContract} on the loopback driver. */
class LoopbackInvalidateConformanceTest extends InvalidateContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
