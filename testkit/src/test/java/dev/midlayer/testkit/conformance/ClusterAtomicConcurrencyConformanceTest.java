package dev.midlayer.testkit.conformance;

/** {@link AtomicConcurrencyContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterAtomicConcurrencyConformanceTest extends AtomicConcurrencyContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
