package dev.midlayer.testkit.conformance;

/** {@link AtomicConcurrencyContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireAtomicConcurrencyConformanceTest extends AtomicConcurrencyContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
