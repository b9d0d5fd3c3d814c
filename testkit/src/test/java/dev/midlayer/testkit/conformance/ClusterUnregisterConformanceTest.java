package dev.midlayer.testkit.conformance;

/** {@link UnregisterContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest.clusterOneNode()}). */
class ClusterUnregisterConformanceTest extends UnregisterContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
