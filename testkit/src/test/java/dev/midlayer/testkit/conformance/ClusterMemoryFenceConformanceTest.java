package dev.midlayer.testkit.conformance;

/** {@link MemoryFenceContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterMemoryFenceConformanceTest extends MemoryFenceContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
