package dev.midlayer.testkit.conformance;

/** {@link RcSendContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireRcSendConformanceTest extends RcSendContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
