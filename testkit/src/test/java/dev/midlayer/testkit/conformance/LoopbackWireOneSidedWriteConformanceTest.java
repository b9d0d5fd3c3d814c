package dev.midlayer.testkit.conformance;

/** {@link OneSidedWriteContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireOneSidedWriteConformanceTest extends OneSidedWriteContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
