package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AtomicCap;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.DeviceCapFlags;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.PortCapFlags;
import dev.midlayer.ib.PortSpeed;
import dev.midlayer.ib.PortWidth;

/**
 * The limits every device of the software drivers reports (loopback and cluster run the same engine, so they
 * can do the same): what {@code ibv_devinfo -v} shows for them, and what a tool checks its options against
 * before it creates anything. Written out here, not left to the builders' defaults, so that a change of a
 * default elsewhere does not move a driver's limits silently.
 *
 * <p>Threading: pure; every method never blocks and may be called from any thread.
 */
public final class SoftLimits {
  /** Largest message (max_msg_sz of every port): 8 MiB. */
  public static final long MAX_MSG_SIZE = 8L << 20;

  /**
   * The capabilities the engine and the midlayer really have ({@code device_cap_flags}, {@link DeviceCapFlags}),
   * held against what Linux rxe advertises ({@code RXE_DEVICE_CAP_FLAGS} in its {@code rxe_param.h}):
   * <ul>
   *   <li>PORT_ACTIVE_EVENT: both drivers raise PORT_ACTIVE when a port comes up (loopback {@code linkUp}, the
   *       cluster node becoming Up);</li>
   *   <li>SYS_IMAGE_GUID: both report a system image GUID (the node GUID);</li>
   *   <li>RC_RNR_NAK_GEN: an RC request that needs a receive and finds none (SEND, WRITE_WITH_IMM) is answered
   *       with an RNR NAK carrying the responder's {@code min_rnr_timer} ({@code Responder},
   *       {@code RdmaResponder}), and the requester retries it;</li>
   *   <li>MEM_MGT_EXTENSIONS: fast registration (REG_MR), LOCAL_INV and SEND_WITH_INV, the responder
   *       invalidating the key ({@code LocalOperations}, {@code Responder});</li>
   *   <li>CURR_QP_STATE_MOD, which rxe does not set: the midlayer's modify QP takes the current-state modifier
   *       on the transitions IB allows it and refuses a claim that is not the QP's state
   *       ({@code QpStateTable});</li>
   * </ul>
   * Not set, though rxe sets them, because the midlayer does not do them: BAD_PKEY_CNTR and BAD_QKEY_CNTR (no
   * such port counters), AUTO_PATH_MIG (alternate paths are refused), CHANGE_PHY_PORT (a connected QP's link
   * keeps the port it resolved), UD_AV_PORT_ENFORCE (a UD send goes out of its address handle's port, whatever
   * the QP's), SRQ_RESIZE (modify SRQ refuses MAX_WR). Nor RESIZE_MAX_WR (modify QP takes no CAP).
   */
  public static final long DEVICE_CAP_FLAGS = DeviceCapFlags.CURR_QP_STATE_MOD | DeviceCapFlags.PORT_ACTIVE_EVENT
      | DeviceCapFlags.SYS_IMAGE_GUID | DeviceCapFlags.RC_RNR_NAK_GEN | DeviceCapFlags.MEM_MGT_EXTENSIONS;

  /**
   * ATOMIC_GLOB ({@code atomic_cap}), where rxe says ATOMIC_HCA: the responder executes CMP_AND_SWP and
   * FETCH_AND_ADD with the CPU's own atomic instructions on the registered memory itself ({@code RdmaResponder}:
   * a {@code VarHandle} compareAndExchange / getAndAdd on the region's buffer, which shares the application's
   * bytes), on every link (loopback sharing memory or not, cluster), so they are atomic against every other
   * atomic on those 8 aligned bytes: another QP's, another device's, and a CPU thread's own {@code VarHandle}
   * atomics (compareAndSet, getAndAdd, in either byte order) on that buffer. A plain store by the CPU is not an
   * atomic and is not ordered with them, as on any HCA.
   */
  public static final AtomicCap ATOMIC_CAP = AtomicCap.ATOMIC_GLOB;

  /**
   * CM_SUP ({@code port_cap_flags}): the midlayer has a connection manager on every port of these drivers, as
   * rxe sets {@code RXE_PORT_PORT_CAP_FLAGS = IB_PORT_CM_SUP}. Nothing else: no subnet manager, no MADs.
   */
  public static final int PORT_CAP_FLAGS = PortCapFlags.CM_SUP;

  /**
   * Nominal link width ({@code active_width}): 4X. The software link has no lanes and no line rate (loopback
   * copies memory in the JVM, the cluster driver rides Artery's TCP); 4X {@link #ACTIVE_SPEED EDR} (a 100 Gb/s
   * port) is what it states, for tools that print it. Measure with {@code perftest}.
   */
  public static final PortWidth ACTIVE_WIDTH = PortWidth.WIDTH_4X;

  /** Nominal per-lane speed ({@code active_speed}): EDR, 25 Gb/s a lane; see {@link #ACTIVE_WIDTH}. */
  public static final PortSpeed ACTIVE_SPEED = PortSpeed.EDR;

  private static final DeviceAttributes LIMITS = device().build();

  private SoftLimits() {}

  /** The device limits, as a driver's query_device reports them (identity fields at their defaults). */
  public static DeviceAttributes limits() {
    return LIMITS;
  }

  /** A builder with the limits set; the driver adds its identity (GUIDs, vendor, ports). */
  public static DeviceAttributes.Builder device() {
    return DeviceAttributes.builder()
        .maxMrSize(1L << 32)
        .maxQp(1 << 16)
        .maxQpWr(1 << 14)
        .maxSge(32)
        .maxCq(1 << 14)
        .maxCqe(1 << 20)
        .maxMr(1 << 16)
        .maxPd(1 << 14)
        .maxQpRdAtom(128)
        .maxQpInitRdAtom(128)
        .maxSrq(1 << 12)
        .maxSrqWr(1 << 14)
        .maxSrqSge(32)
        .maxAh(1 << 16)
        .maxFmr(1 << 12)
        .maxMapPerFmr(255)
        .maxFastRegPageListLen(512)
        .maxInlineData(256)
        .deviceCapFlags(DEVICE_CAP_FLAGS)
        .atomicCap(ATOMIC_CAP);
  }

  /**
   * A builder with the port limits, capabilities and nominal link set; the driver adds its state and physical
   * state, MTU, addresses and link layer.
   */
  public static PortAttributes.Builder port() {
    return PortAttributes.builder()
        .maxMsgSize(MAX_MSG_SIZE)
        .portCapFlags(PORT_CAP_FLAGS)
        .activeWidth(ACTIVE_WIDTH)
        .activeSpeed(ACTIVE_SPEED);
  }
}
