package dev.midlayer.testkit.conformance;

/**
 * {@link ErrorContract} on the cluster driver, one node: what it checks is local to the device and its
 * midlayer, and the two-node runs of the data-path contracts cover the wire (see
 * {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterErrorConformanceTest extends ErrorContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
