package dev.midlayer.ib;

/**
 * Logical port state ({@code enum ib_port_state}); the numeric value is the IB one.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum PortState {
  NOP(0),
  DOWN(1),
  INIT(2),
  ARMED(3),
  ACTIVE(4),
  ACTIVE_DEFER(5);

  private final int value;

  PortState(int value) {
    this.value = value;
  }

  /** The IB numeric value. */
  public int value() {
    return value;
  }
}
