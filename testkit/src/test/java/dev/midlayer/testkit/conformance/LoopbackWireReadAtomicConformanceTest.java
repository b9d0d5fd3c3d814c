package dev.midlayer.testkit.conformance;

/** {@link ReadAtomicContract} on the loopback driver with its link as a wire (no shared memory). */
class LoopbackWireReadAtomicConformanceTest extends ReadAtomicContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopbackWire();
  }
}
