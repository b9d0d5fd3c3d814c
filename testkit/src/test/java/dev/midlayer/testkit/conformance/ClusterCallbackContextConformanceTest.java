package dev.midlayer.testkit.conformance;

/** {@link CallbackContextContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest.clusterOneNode()}). */
class ClusterCallbackContextConformanceTest extends CallbackContextContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
