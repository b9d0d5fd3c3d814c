package dev.midlayer.testkit.conformance;

/** {@link UdUcContract} on the loopback driver. */
class LoopbackUdUcConformanceTest extends UdUcContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
