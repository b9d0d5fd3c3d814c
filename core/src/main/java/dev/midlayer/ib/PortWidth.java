package dev.midlayer.ib;

/**
 * Active link width of a port ({@code active_width}), as {@code enum ib_port_width} of Linux's
 * {@code include/rdma/ib_verbs.h} defines it: 1X = 1, 2X = 16, 4X = 2, 8X = 4, 12X = 8 (PortInfo's
 * LinkWidthActive bits, 2X added last). {@link #label()} and {@link #value()} are what {@code ibv_devinfo -v}
 * prints ({@code active_width: 4X (2)}, rdma-core's {@code libibverbs/examples/devinfo.c}).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum PortWidth {
  /** One lane ({@code IB_WIDTH_1X}). */
  WIDTH_1X(1, 1),
  /** Two lanes ({@code IB_WIDTH_2X}). */
  WIDTH_2X(16, 2),
  /** Four lanes ({@code IB_WIDTH_4X}). */
  WIDTH_4X(2, 4),
  /** Eight lanes ({@code IB_WIDTH_8X}). */
  WIDTH_8X(4, 8),
  /** Twelve lanes ({@code IB_WIDTH_12X}). */
  WIDTH_12X(8, 12);

  private final int value;
  private final int lanes;

  PortWidth(int value, int lanes) {
    this.value = value;
    this.lanes = lanes;
  }

  /** The IB numeric value ({@code IB_WIDTH_*}). */
  public int value() {
    return value;
  }

  /** The number of lanes (1, 2, 4, 8 or 12). */
  public int lanes() {
    return lanes;
  }

  /** The width as {@code ibv_devinfo} prints it: the lanes and "X", e.g. {@code 4X}. */
  public String label() {
    return lanes + "X";
  }
}
