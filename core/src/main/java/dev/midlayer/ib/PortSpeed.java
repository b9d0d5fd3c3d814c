package dev.midlayer.ib;

/**
 * Active link speed of a port, per lane ({@code active_speed}), as {@code enum ib_port_speed} of Linux's
 * {@code include/rdma/ib_verbs.h} defines it: SDR = 1, DDR = 2, QDR = 4, FDR10 = 8, FDR = 16, EDR = 32,
 * HDR = 64, NDR = 128, XDR = 256 (rdma-core reports XDR in {@code active_speed_ex}). {@link #label()} and
 * {@link #value()} are what {@code ibv_devinfo -v} prints ({@code active_speed: 25.0 Gbps (32)}, the rates of
 * {@code speed_str} in rdma-core's {@code libibverbs/examples/devinfo.c}).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum PortSpeed {
  /** Single data rate: 2.5 Gb/s per lane. */
  SDR(1, "2.5 Gbps"),
  /** Double data rate: 5 Gb/s per lane. */
  DDR(2, "5.0 Gbps"),
  /** Quad data rate: 10 Gb/s per lane. */
  QDR(4, "10.0 Gbps"),
  /** FDR10: 10 Gb/s per lane with 64b/66b coding. */
  FDR10(8, "10.0 Gbps"),
  /** Fourteen data rate: 14 Gb/s per lane. */
  FDR(16, "14.0 Gbps"),
  /** Enhanced data rate: 25 Gb/s per lane. */
  EDR(32, "25.0 Gbps"),
  /** High data rate: 50 Gb/s per lane. */
  HDR(64, "50.0 Gbps"),
  /** Next data rate: 100 Gb/s per lane. */
  NDR(128, "100.0 Gbps"),
  /** eXtended data rate: 200 Gb/s per lane. */
  XDR(256, "200.0 Gbps");

  private final int value;
  private final String label;

  PortSpeed(int value, String label) {
    this.value = value;
    this.label = label;
  }

  /** The IB numeric value ({@code IB_SPEED_*}). */
  public int value() {
    return value;
  }

  /** The per-lane rate as {@code ibv_devinfo} prints it, e.g. {@code 25.0 Gbps}. */
  public String label() {
    return label;
  }
}
