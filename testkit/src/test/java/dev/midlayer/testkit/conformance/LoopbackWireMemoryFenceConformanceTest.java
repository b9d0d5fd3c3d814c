package dev.midlayer.testkit.conformance;

/** {@link MemoryFenceContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireMemoryFenceConformanceTest extends MemoryFenceContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
