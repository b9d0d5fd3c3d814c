package dev.midlayer.testkit.conformance;

/** {@link UdUcContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterUdUcConformanceTest extends UdUcContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
