package dev.midlayer.testkit.conformance;

/** {@link MemoryProtectionContract} on the cluster driver, two nodes in this JVM (see {@link DriverUnderTest#cluster()}). */
class ClusterMemoryProtectionConformanceTest extends MemoryProtectionContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
