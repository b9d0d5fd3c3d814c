package dev.midlayer.testkit.conformance;

/** {@link CqSizingContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterCqSizingConformanceTest extends CqSizingContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
