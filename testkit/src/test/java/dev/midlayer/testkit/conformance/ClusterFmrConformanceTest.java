package dev.midlayer.testkit.conformance;

/**
 * {@link FmrContract} on the cluster driver, one node: what it checks is seen by the kit's own midlayer
 * (see {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterFmrConformanceTest extends FmrContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
