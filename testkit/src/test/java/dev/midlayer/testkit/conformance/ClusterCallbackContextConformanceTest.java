package dev.midlayer.testkit.conformance;

/**
 * {@link CallbackContextContract} on the cluster driver, one node: what it checks is seen by the kit's own midlayer
 * (see {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterCallbackContextConformanceTest extends CallbackContextContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
