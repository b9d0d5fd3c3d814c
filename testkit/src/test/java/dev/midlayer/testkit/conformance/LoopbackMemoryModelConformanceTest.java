package dev.midlayer.testkit.conformance;

/** {@link MemoryModelContract} on the loopback driver. */
class LoopbackMemoryModelConformanceTest extends MemoryModelContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
