package dev.midlayer.testkit.conformance;

/** {@link MemoryModelContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterMemoryModelConformanceTest extends MemoryModelContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
