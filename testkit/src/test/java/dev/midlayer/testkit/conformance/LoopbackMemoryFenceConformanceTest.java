package dev.midlayer.testkit.conformance;

/** {@link MemoryFenceContract} on the loopback driver. */
class LoopbackMemoryFenceConformanceTest extends MemoryFenceContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
