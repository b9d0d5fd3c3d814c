package dev.midlayer.testkit.conformance;

/** {@link HotUnplugContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest.clusterOneNode()}). */
class ClusterHotUnplugConformanceTest extends HotUnplugContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
