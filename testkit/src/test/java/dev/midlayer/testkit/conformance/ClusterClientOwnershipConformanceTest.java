package dev.midlayer.testkit.conformance;

/** {@link ClientOwnershipContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest.clusterOneNode()}). */
class ClusterClientOwnershipConformanceTest extends ClientOwnershipContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
