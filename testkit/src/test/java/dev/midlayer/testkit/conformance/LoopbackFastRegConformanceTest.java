package dev.midlayer.testkit.conformance;

/** {@link FastRegContract} on the loopback driver. */
class LoopbackFastRegConformanceTest extends FastRegContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
