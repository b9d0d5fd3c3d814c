package dev.midlayer.testkit.conformance;

/** {@link FastRegContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireFastRegConformanceTest extends FastRegContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
