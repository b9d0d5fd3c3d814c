package dev.midlayer.testkit.conformance;

/** {@link MemoryProtectionContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireMemoryProtectionConformanceTest extends MemoryProtectionContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
