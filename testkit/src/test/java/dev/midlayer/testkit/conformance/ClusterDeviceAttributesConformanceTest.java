package dev.midlayer.testkit.conformance;

/**
 * {@link DeviceAttributesContract} on the cluster driver, one node: what it checks is seen by the kit's own midlayer
 * (see {@link DriverUnderTest#clusterOneNode()}).
 */
class ClusterDeviceAttributesConformanceTest extends DeviceAttributesContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
