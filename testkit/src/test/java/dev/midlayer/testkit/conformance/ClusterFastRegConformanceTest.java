package dev.midlayer.testkit.conformance;

/** {@link FastRegContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterFastRegConformanceTest extends FastRegContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
