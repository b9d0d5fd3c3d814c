package dev.midlayer.testkit.conformance;

/** {@link RcSendContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterRcSendConformanceTest extends RcSendContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
