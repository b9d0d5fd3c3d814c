package dev.midlayer.testkit.conformance;

/**
 * {@link MemoryProtectionContract} on the cluster driver, one node (frames through the wire codec, not Artery): a two-node
 * run costs about 1.6 s more per test, which the build's time budget does not allow for every contract; the full
 * suite on two nodes passed once (see the module's README, "Certifying a driver").
 */
class ClusterMemoryProtectionConformanceTest extends MemoryProtectionContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
