package dev.midlayer.testkit.conformance;

/** {@link SrqAndDrainContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterSrqAndDrainConformanceTest extends SrqAndDrainContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
