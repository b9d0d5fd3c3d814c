package dev.midlayer.testkit.conformance;

/** {@link FmrContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterFmrConformanceTest extends FmrContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
