package dev.midlayer.testkit.conformance;

/**
 * {@link HotUnplugContract} on the cluster driver, one node: what it checks is seen by the kit's own midlayer
 * (see {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterHotUnplugConformanceTest extends HotUnplugContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
