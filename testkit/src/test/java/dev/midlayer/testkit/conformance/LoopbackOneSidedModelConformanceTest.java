package dev.midlayer.testkit.conformance;

/** {@link OneSidedModelContract} on the loopback driver. */
class LoopbackOneSidedModelConformanceTest extends OneSidedModelContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
