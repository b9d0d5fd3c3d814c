package dev.midlayer.testkit.conformance;

/** {@link InvalidateContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireInvalidateConformanceTest extends InvalidateContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
