package dev.midlayer.spi;

/**
 * The operations of the driver ops table ({@code struct ib_device_ops}), with the kernel name, whether
 * the midlayer refuses a device that lacks it, and whether the op may sleep. The seed's rule: every
 * op may sleep except create/modify/query/destroy AH, post send/recv, poll and arm CQ and map FMR;
 * those must be callable from any context.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum DriverOp {
  QUERY_DEVICE("query_device", true, true),
  QUERY_PORT("query_port", true, true),
  ENABLE_DRIVER("enable_driver", false, true),
  DEALLOC_DRIVER("dealloc_driver", false, true),
  /** Optional here so that control-path-only drivers register; QPs on a device without it are refused. */
  CREATE_QP("create_qp", false, true),
  /** The wait for transfers in flight inside {@code dereg_mr} / {@code unmap_fmr}; see {@link DeviceOps.MemoryFence}. */
  MEMORY_FENCE("dereg_mr/unmap_fmr DMA wait", false, true);

  private final String kernelName;
  private final boolean mandatory;
  private final boolean maySleep;

  DriverOp(String kernelName, boolean mandatory, boolean maySleep) {
    this.kernelName = kernelName;
    this.mandatory = mandatory;
    this.maySleep = maySleep;
  }

  /** The op's name in {@code struct ib_device_ops}, used in error messages. */
  public String kernelName() {
    return kernelName;
  }

  /** True if a device whose ops table lacks this op is refused at registration. */
  public boolean mandatory() {
    return mandatory;
  }

  /** True if the op may sleep; false for the seed's must-not-sleep, any-context ops. */
  public boolean maySleep() {
    return maySleep;
  }
}
