package dev.midlayer.testkit.conformance;

/** {@link WcStatusContract} on the loopback driver. */
class LoopbackWcStatusConformanceTest extends WcStatusContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
