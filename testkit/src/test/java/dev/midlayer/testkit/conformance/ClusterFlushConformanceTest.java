package dev.midlayer.testkit.conformance;

/** {@link FlushContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterFlushConformanceTest extends FlushContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
