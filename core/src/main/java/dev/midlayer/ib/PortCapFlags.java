package dev.midlayer.ib;

/**
 * The bits of a port's {@code port_cap_flags} ({@link PortAttributes#portCapFlags()}), PortInfo's
 * CapabilityMask: the {@code IB_PORT_*} bits of {@code enum ib_port_capability_mask_bits} in Linux's
 * {@code include/rdma/ib_mad.h} (formerly {@code enum ib_port_cap_flags} of {@code include/rdma/ib_verbs.h}),
 * equal to rdma-core's {@code IBV_PORT_*} ({@code enum ibv_port_cap_flags}, {@code libibverbs/verbs.h}) wherever
 * it names the bit (it has no SM_DISABLED). {@code ibv_devinfo -v} prints the mask in hex ({@code port_cap_flags: 0x00010000}).
 *
 * <p>Threading: stateless; constants only.
 */
public final class PortCapFlags {
  private PortCapFlags() {}

  /** The port is a subnet manager. */
  public static final int SM = 1 << 1;
  /** Notices are supported. */
  public static final int NOTICE_SUP = 1 << 2;
  /** Traps are supported. */
  public static final int TRAP_SUP = 1 << 3;
  /** Optional inter-packet delay is supported. */
  public static final int OPT_IPD_SUP = 1 << 4;
  /** Automatic path migration is supported. */
  public static final int AUTO_MIGR_SUP = 1 << 5;
  /** The SL-to-VL mapping table is supported. */
  public static final int SL_MAP_SUP = 1 << 6;
  /** The M_Key is kept in non-volatile memory. */
  public static final int MKEY_NVRAM = 1 << 7;
  /** The P_Key table is kept in non-volatile memory. */
  public static final int PKEY_NVRAM = 1 << 8;
  /** LED information is supported. */
  public static final int LED_INFO_SUP = 1 << 9;
  /** A subnet manager is present but disabled. */
  public static final int SM_DISABLED = 1 << 10;
  /** The system image GUID is supported. */
  public static final int SYS_IMAGE_GUID_SUP = 1 << 11;
  /** P_Key switch external port traps are supported. */
  public static final int PKEY_SW_EXT_PORT_TRAP_SUP = 1 << 12;
  /** Extended link speeds are supported. */
  public static final int EXTENDED_SPEEDS_SUP = 1 << 14;
  /** The second capability mask is supported. */
  public static final int CAP_MASK2_SUP = 1 << 15;
  /** The port has a communication manager (connection establishment through CM MADs). */
  public static final int CM_SUP = 1 << 16;
  /** SNMP tunnelling is supported. */
  public static final int SNMP_TUNNEL_SUP = 1 << 17;
  /** Reinitialisation is supported. */
  public static final int REINIT_SUP = 1 << 18;
  /** Device management is supported. */
  public static final int DEVICE_MGMT_SUP = 1 << 19;
  /** Vendor classes are supported. */
  public static final int VENDOR_CLASS_SUP = 1 << 20;
  /** Directed-route notices are supported. */
  public static final int DR_NOTICE_SUP = 1 << 21;
  /** Capability-mask change notices are supported. */
  public static final int CAP_MASK_NOTICE_SUP = 1 << 22;
  /** Boot management is supported. */
  public static final int BOOT_MGMT_SUP = 1 << 23;
  /** Link round-trip latency measurement is supported. */
  public static final int LINK_LATENCY_SUP = 1 << 24;
  /** Client re-registration is supported. */
  public static final int CLIENT_REG_SUP = 1 << 25;
}
