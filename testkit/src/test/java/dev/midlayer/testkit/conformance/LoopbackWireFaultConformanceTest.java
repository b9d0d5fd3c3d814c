package dev.midlayer.testkit.conformance;

/** {@link FaultContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireFaultConformanceTest extends FaultContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
