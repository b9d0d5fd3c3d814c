package dev.midlayer.testkit.conformance;

/** {@link FaultContract} on the loopback driver. */
class LoopbackFaultConformanceTest extends FaultContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
