package dev.midlayer.testkit.conformance;

/** {@link HostileConsumerContract} on the loopback driver. */
class LoopbackHostileConsumerConformanceTest extends HostileConsumerContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
