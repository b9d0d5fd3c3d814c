package dev.midlayer.ib;

/**
 * Physical state of a port's link ({@code phys_state}), as {@code enum ib_port_phys_state} of Linux's
 * {@code include/rdma/ib_verbs.h} defines it: SLEEP = 1, POLLING = 2, DISABLED = 3,
 * PORT_CONFIGURATION_TRAINING = 4, LINK_UP = 5, LINK_ERROR_RECOVERY = 6, PHY_TEST = 7. A port whose logical
 * {@link PortState} is past DOWN has its link up. {@link #label()} and {@link #value()} are what
 * {@code ibv_devinfo -v} prints ({@code phys_state: LINK_UP (5)}, {@code port_phy_state_str} in rdma-core's
 * {@code libibverbs/examples/devinfo.c}, its spelling included).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum PhysPortState {
  /** Sleep: a low-power pause of the link training, between rounds of polling for a partner. */
  SLEEP(1, "SLEEP"),
  /** Polling: the port tries to train a link with a partner (none answered yet). */
  POLLING(2, "POLLING"),
  /** Disabled: the port is off and does not train a link until it is enabled again. */
  DISABLED(3, "DISABLED"),
  /** Training the link with its partner. */
  PORT_CONFIGURATION_TRAINING(4, "PORT_CONFIGURATION TRAINNING"),
  /** The link is up: the logical state may leave DOWN. */
  LINK_UP(5, "LINK_UP"),
  /** Recovering from a link error. */
  LINK_ERROR_RECOVERY(6, "LINK_ERROR_RECOVERY"),
  /** A physical-layer test mode. */
  PHY_TEST(7, "PHY TEST");

  private final int value;
  private final String label;

  PhysPortState(int value, String label) {
    this.value = value;
    this.label = label;
  }

  /** The IB numeric value (1..7). */
  public int value() {
    return value;
  }

  /** The state as {@code ibv_devinfo} prints it, e.g. {@code LINK_UP}. */
  public String label() {
    return label;
  }
}
