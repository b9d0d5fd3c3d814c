package dev.midlayer.testkit.conformance;

/** {@link WcStatusContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterWcStatusConformanceTest extends WcStatusContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
