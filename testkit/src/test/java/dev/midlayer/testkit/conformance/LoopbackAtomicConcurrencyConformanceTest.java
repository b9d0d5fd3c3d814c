package dev.midlayer.testkit.conformance;

/** {@link AtomicConcurrencyContract} on the loopback driver. */
class LoopbackAtomicConcurrencyConformanceTest extends AtomicConcurrencyContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
