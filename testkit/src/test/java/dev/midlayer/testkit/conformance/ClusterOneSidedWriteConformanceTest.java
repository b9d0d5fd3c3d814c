package dev.midlayer.testkit.conformance;

/** {@link OneSidedWriteContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterOneSidedWriteConformanceTest extends OneSidedWriteContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
