package dev.midlayer.testkit.conformance;

/** {@link PostBadInputContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterPostBadInputConformanceTest extends PostBadInputContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
