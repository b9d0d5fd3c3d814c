package dev.midlayer.testkit.conformance;

/** {@link OneSidedModelContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireOneSidedModelConformanceTest extends OneSidedModelContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
