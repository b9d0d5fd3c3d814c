package dev.midlayer.testkit.conformance;

/** {@link ConcurrencyContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterConcurrencyConformanceTest extends ConcurrencyContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
