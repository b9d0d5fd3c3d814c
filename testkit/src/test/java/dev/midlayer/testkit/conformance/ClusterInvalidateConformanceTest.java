package dev.midlayer.testkit.conformance;

/** {@link InvalidateContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterInvalidateConformanceTest extends InvalidateContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
