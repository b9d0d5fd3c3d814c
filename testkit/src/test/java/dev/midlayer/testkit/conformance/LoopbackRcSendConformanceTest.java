package dev.midlayer.testkit.conformance;

/** {@link RcSendContract} on the loopback driver. */
class LoopbackRcSendConformanceTest extends RcSendContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
