package dev.midlayer.ib;

import java.util.List;

/**
 * The state and properties of one port ({@code struct ib_port_attr} plus its GID table), reported by
 * the driver's {@link dev.midlayer.spi.DeviceOps.QueryPort} op. The midlayer caches it per port and refreshes the
 * cache before it tells event handlers about a port event. Immutable; build with {@link #builder()}.
 *
 * <p>Threading: every method of the record and of its {@link Builder} never blocks. The record may be used
 * from any thread; a builder is not thread-safe: use it from one thread at a time.
 *
 * @param state logical port state
 * @param maxMtu largest MTU the port supports
 * @param activeMtu MTU in use
 * @param lid base LID (0 when not assigned)
 * @param smLid LID of the subnet manager
 * @param lmc LID mask control
 * @param maxMsgSize largest message, in bytes
 * @param linkLayer InfiniBand or Ethernet
 * @param gids the GID table, index 0 first (never empty)
 * @param pkeyTableLength number of P_Key table entries
 * @param portCapFlags PortInfo's CapabilityMask, the {@code IB_PORT_*} bits of {@link PortCapFlags}
 * @param activeWidth the link width in use
 * @param activeSpeed the per-lane link speed in use
 * @param physState the physical state of the link; {@link PhysPortState#LINK_UP} whenever {@code state} is past
 *     DOWN (INIT, ARMED, ACTIVE, ACTIVE_DEFER), as IB's port state machines demand
 */
public record PortAttributes(
    PortState state,
    Mtu maxMtu,
    Mtu activeMtu,
    int lid,
    int smLid,
    int lmc,
    long maxMsgSize,
    LinkLayer linkLayer,
    List<Gid> gids,
    int pkeyTableLength,
    int portCapFlags,
    PortWidth activeWidth,
    PortSpeed activeSpeed,
    PhysPortState physState) {

  /**
   * Checks the fields and copies {@code gids}.
   *
   * @throws InvalidArgumentException if a field is null, the GID table is empty, {@code activeMtu} exceeds
   *     {@code maxMtu}, or the logical state is past DOWN while the link is not up
   */
  public PortAttributes {
    InvalidArgumentException.requireNonNull(state, "state");
    InvalidArgumentException.requireNonNull(maxMtu, "maxMtu");
    InvalidArgumentException.requireNonNull(activeMtu, "activeMtu");
    InvalidArgumentException.requireNonNull(linkLayer, "linkLayer");
    InvalidArgumentException.requireNonNull(gids, "gids");
    InvalidArgumentException.requireNonNull(activeWidth, "activeWidth");
    InvalidArgumentException.requireNonNull(activeSpeed, "activeSpeed");
    InvalidArgumentException.requireNonNull(physState, "physState");
    if (gids.isEmpty()) {
      throw new InvalidArgumentException("gids", "a port has at least one GID (index 0)");
    }
    if (activeMtu.bytes() > maxMtu.bytes()) {
      throw new InvalidArgumentException("activeMtu", activeMtu + " exceeds maxMtu " + maxMtu);
    }
    if (linkUpRequired(state) && physState != PhysPortState.LINK_UP) {
      throw new InvalidArgumentException("physState", "a port in state " + state + " has its link up, not "
          + physState);
    }
    gids = List.copyOf(gids);
  }

  /** True for the logical states a port reaches only over a link that is up (past DOWN). */
  private static boolean linkUpRequired(PortState state) {
    return state != PortState.DOWN && state != PortState.NOP;
  }

  /**
   * Returns a copy with another state (what a driver reports on link up/down). The physical state is kept,
   * except that a state past DOWN brings it to {@link PhysPortState#LINK_UP}.
   */
  public PortAttributes withState(PortState newState) {
    PhysPortState phys = newState != null && linkUpRequired(newState) ? PhysPortState.LINK_UP : physState;
    return new PortAttributes(newState, maxMtu, activeMtu, lid, smLid, lmc, maxMsgSize, linkLayer, gids,
        pkeyTableLength, portCapFlags, activeWidth, activeSpeed, phys);
  }

  /**
   * A builder with the defaults of an active InfiniBand port with MTU 4096 and 8 MiB messages, no capability
   * flags, a 1X SDR link (rxe's initial port parameters), and the physical state that goes with the logical
   * one unless {@link Builder#physState} sets it: {@link PhysPortState#LINK_UP} past DOWN,
   * {@link PhysPortState#POLLING} for DOWN (a link that is trying to come up).
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder for {@link PortAttributes}. Not thread-safe: one thread at a time; never blocks. */
  public static final class Builder {
    private PortState state = PortState.ACTIVE;
    private Mtu maxMtu = Mtu.MTU_4096;
    private Mtu activeMtu = Mtu.MTU_4096;
    private int lid;
    private int smLid;
    private int lmc;
    private long maxMsgSize = 8L << 20;
    private LinkLayer linkLayer = LinkLayer.INFINIBAND;
    private List<Gid> gids = List.of(Gid.linkLocal(0));
    private int pkeyTableLength = 1;
    private int portCapFlags;
    private PortWidth activeWidth = PortWidth.WIDTH_1X;
    private PortSpeed activeSpeed = PortSpeed.SDR;
    private PhysPortState physState;

    private Builder() {}

    /** Sets {@code state}: logical port state. */
    public Builder state(PortState v) { this.state = v; return this; }
    /** Sets {@code maxMtu}: largest MTU the port supports. */
    public Builder maxMtu(Mtu v) { this.maxMtu = v; return this; }
    /** Sets {@code activeMtu}: MTU in use. */
    public Builder activeMtu(Mtu v) { this.activeMtu = v; return this; }
    /** Sets {@code lid}: base LID (0 when not assigned). */
    public Builder lid(int v) { this.lid = v; return this; }
    /** Sets {@code smLid}: LID of the subnet manager. */
    public Builder smLid(int v) { this.smLid = v; return this; }
    /** Sets {@code lmc}: LID mask control. */
    public Builder lmc(int v) { this.lmc = v; return this; }
    /** Sets {@code maxMsgSize}: largest message, in bytes. */
    public Builder maxMsgSize(long v) { this.maxMsgSize = v; return this; }
    /** Sets {@code linkLayer}: InfiniBand or Ethernet. */
    public Builder linkLayer(LinkLayer v) { this.linkLayer = v; return this; }
    /** Sets {@code gids}: the GID table, index 0 first (never empty). */
    public Builder gids(List<Gid> v) { this.gids = v; return this; }
    /** Sets {@code pkeyTableLength}: number of P_Key table entries. */
    public Builder pkeyTableLength(int v) { this.pkeyTableLength = v; return this; }
    /** Sets {@code portCapFlags}: PortInfo's CapabilityMask, the {@code IB_PORT_*} bits of {@link PortCapFlags}. */
    public Builder portCapFlags(int v) { this.portCapFlags = v; return this; }
    /** Sets {@code activeWidth}: the link width in use. */
    public Builder activeWidth(PortWidth v) { this.activeWidth = v; return this; }
    /** Sets {@code activeSpeed}: the per-lane link speed in use. */
    public Builder activeSpeed(PortSpeed v) { this.activeSpeed = v; return this; }
    /** Sets {@code physState}: the physical state of the link (null: the one that goes with the state). */
    public Builder physState(PhysPortState v) { this.physState = v; return this; }

    /** A {@link PortAttributes} of the values set, the others at their defaults; checked as by the constructor. */
    public PortAttributes build() {
      PhysPortState phys = physState != null ? physState
          : state != null && linkUpRequired(state) ? PhysPortState.LINK_UP : PhysPortState.POLLING;
      return new PortAttributes(state, maxMtu, activeMtu, lid, smLid, lmc, maxMsgSize, linkLayer, gids,
          pkeyTableLength, portCapFlags, activeWidth, activeSpeed, phys);
    }
  }
}
