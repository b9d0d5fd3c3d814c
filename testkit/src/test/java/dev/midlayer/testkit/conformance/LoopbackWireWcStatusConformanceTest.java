package dev.midlayer.testkit.conformance;

/** {@link WcStatusContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireWcStatusConformanceTest extends WcStatusContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
