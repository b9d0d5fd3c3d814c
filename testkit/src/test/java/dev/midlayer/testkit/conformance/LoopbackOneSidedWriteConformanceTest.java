package dev.midlayer.testkit.conformance;

/** {@link OneSidedWriteContract} on the loopback driver. */
class LoopbackOneSidedWriteConformanceTest extends OneSidedWriteContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
