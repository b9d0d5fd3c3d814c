package dev.midlayer.testkit.conformance;

/** {@link UnregisterContract} on the loopback driver. */
class LoopbackUnregisterConformanceTest extends UnregisterContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
