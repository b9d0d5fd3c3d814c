package dev.midlayer.testkit.conformance;

/** {@link MemoryProtectionContract} on the loopback driver. */
class LoopbackMemoryProtectionConformanceTest extends MemoryProtectionContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
