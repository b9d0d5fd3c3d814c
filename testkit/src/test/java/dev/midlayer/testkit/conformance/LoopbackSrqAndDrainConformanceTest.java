package dev.midlayer.testkit.conformance;

/** {@link SrqAndDrainContract} on the loopback driver. */
class LoopbackSrqAndDrainConformanceTest extends SrqAndDrainContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
