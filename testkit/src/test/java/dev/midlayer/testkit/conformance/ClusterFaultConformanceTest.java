package dev.midlayer.testkit.conformance;

/** {@link FaultContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterFaultConformanceTest extends FaultContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
