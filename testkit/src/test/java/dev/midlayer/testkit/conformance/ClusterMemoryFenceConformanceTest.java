package dev.midlayer.testkit.conformance;

/**
 * {@link MemoryFenceContract} on the cluster driver, one node (frames through the wire codec, whose encoder
 * reads registered memory on Artery's side). On two nodes a stream of 8 MiB WRITEs stalled for over 10 s in one
 * of eight repetitions; that is an open defect, not yet understood, so this run stays on one node until it is.
 */
class ClusterMemoryFenceConformanceTest extends MemoryFenceContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.clusterOneNode();
  }
}
