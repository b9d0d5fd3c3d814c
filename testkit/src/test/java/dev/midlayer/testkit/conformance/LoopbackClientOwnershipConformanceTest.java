package dev.midlayer.testkit.conformance;

/** {@link ClientOwnershipContract} on the loopback driver. */
class LoopbackClientOwnershipConformanceTest extends ClientOwnershipContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
