package dev.midlayer.testkit.conformance;

/** {@link QpStateContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterQpStateConformanceTest extends QpStateContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
