package dev.midlayer.testkit.conformance;

/** {@link CallbackContextContract} on the loopback driver. */
class LoopbackCallbackContextConformanceTest extends CallbackContextContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
