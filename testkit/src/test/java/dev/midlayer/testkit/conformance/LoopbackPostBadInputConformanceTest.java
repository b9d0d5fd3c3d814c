package dev.midlayer.testkit.conformance;

/** {@link PostBadInputContract} on the loopback driver. */
class LoopbackPostBadInputConformanceTest extends PostBadInputContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
