package dev.midlayer.testkit.conformance;

/** {@link HotUnplugContract} on the loopback driver. */
class LoopbackHotUnplugConformanceTest extends HotUnplugContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
