package dev.midlayer.testkit.conformance;

/** {@link ReadAtomicContract} on the loopback driver. */
class LoopbackReadAtomicConformanceTest extends ReadAtomicContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
