package dev.midlayer.testkit.conformance;

/**
 * {@link ConnectionManagerContract} on the cluster driver, two nodes in this JVM: the CM messages travel between
 * the two nodes' CM actors, found through the cluster's Receptionist (see {@link DriverUnderTest#cluster()}).
 */
class ClusterConnectionManagerConformanceTest extends ConnectionManagerContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.cluster();
  }
}
