package dev.midlayer.testkit.conformance;

/** {@link ErrorContract} on the loopback driver. */
class LoopbackErrorConformanceTest extends ErrorContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
