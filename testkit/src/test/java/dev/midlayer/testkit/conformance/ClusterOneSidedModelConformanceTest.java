package dev.midlayer.testkit.conformance;

/** {@link OneSidedModelContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterOneSidedModelConformanceTest extends OneSidedModelContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
