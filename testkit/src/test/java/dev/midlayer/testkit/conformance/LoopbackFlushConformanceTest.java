package dev.midlayer.testkit.conformance;

/** {@link FlushContract} on the loopback driver. */
class LoopbackFlushConformanceTest extends FlushContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
