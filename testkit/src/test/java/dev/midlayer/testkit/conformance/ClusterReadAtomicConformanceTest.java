package dev.midlayer.testkit.conformance;

/** {@link ReadAtomicContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterReadAtomicConformanceTest extends ReadAtomicContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
