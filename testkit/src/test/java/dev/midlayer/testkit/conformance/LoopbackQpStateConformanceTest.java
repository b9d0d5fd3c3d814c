package dev.midlayer.testkit.conformance;

/** {@link QpStateContract} on the loopback driver. */
class LoopbackQpStateConformanceTest extends QpStateContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
