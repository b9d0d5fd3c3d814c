package dev.midlayer.testkit.conformance;

/**
 * {@link UnregisterContract} on the cluster driver, one node: what it checks is seen by the kit's own midlayer
 * (see {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterUnregisterConformanceTest extends UnregisterContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
