package dev.midlayer.testkit.conformance;

/** {@link DeviceAttributesContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest.clusterOneNode()}). */
class ClusterDeviceAttributesConformanceTest extends DeviceAttributesContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
