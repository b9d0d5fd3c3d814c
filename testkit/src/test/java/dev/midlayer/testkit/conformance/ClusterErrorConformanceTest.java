package dev.midlayer.testkit.conformance;

/** {@link ErrorContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterErrorConformanceTest extends ErrorContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
