package dev.midlayer.testkit.conformance;

/** {@link HostileConsumerContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterHostileConsumerConformanceTest extends HostileConsumerContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
