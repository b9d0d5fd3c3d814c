package dev.midlayer.ib;

import java.util.ArrayList;
import java.util.List;

/**
 * The bits of a device's {@code device_cap_flags} ({@link DeviceAttributes#deviceCapFlags()}): the
 * {@code IB_DEVICE_*} bits of {@code enum ib_device_cap_flags} in Linux's {@code include/rdma/ib_verbs.h}, whose
 * values are those of {@code IB_UVERBS_DEVICE_*} ({@code include/uapi/rdma/ib_user_verbs.h}) and of rdma-core's
 * {@code IBV_DEVICE_*} ({@code libibverbs/verbs.h}). Only the bits {@code ibv_devinfo -v} decodes are named here;
 * {@link #names(long)} lists them in its order and {@link #unknown(long)} is what it prints as
 * {@code Unknown flags} ({@code print_device_cap_flags} in rdma-core's {@code libibverbs/examples/devinfo.c}).
 *
 * <p>Threading: stateless; every method never blocks and may be called from any thread.
 */
public final class DeviceCapFlags {
  private DeviceCapFlags() {}

  /** The device can resize a QP's work queues ({@code IB_QP_CAP} in modify QP). */
  public static final long RESIZE_MAX_WR = 1L;
  /** The ports count bad P_Keys ({@code bad_pkey_cntr}). */
  public static final long BAD_PKEY_CNTR = 1L << 1;
  /** The ports count Q_Key violations ({@code qkey_viol_cntr}). */
  public static final long BAD_QKEY_CNTR = 1L << 2;
  /** Raw multicast. */
  public static final long RAW_MULTI = 1L << 3;
  /** Automatic path migration (alternate paths). */
  public static final long AUTO_PATH_MIG = 1L << 4;
  /** A QP's primary port may change in SQD to SQD. */
  public static final long CHANGE_PHY_PORT = 1L << 5;
  /** A UD address handle's port must be the QP's port. */
  public static final long UD_AV_PORT_ENFORCE = 1L << 6;
  /** Modify QP takes the current-state modifier ({@code IB_QP_CUR_STATE}). */
  public static final long CURR_QP_STATE_MOD = 1L << 7;
  /** A port can be shut down ({@code IB_PORT_SHUTDOWN} in modify port). */
  public static final long SHUTDOWN_PORT = 1L << 8;
  /** Init type (no longer used by Linux). */
  public static final long INIT_TYPE = 1L << 9;
  /** The device raises PORT_ACTIVE when a port becomes ACTIVE. */
  public static final long PORT_ACTIVE_EVENT = 1L << 10;
  /** The device has a system image GUID. */
  public static final long SYS_IMAGE_GUID = 1L << 11;
  /** An RC responder answers a SEND that finds no receive with an RNR NAK. */
  public static final long RC_RNR_NAK_GEN = 1L << 12;
  /** An SRQ can be resized ({@code IB_SRQ_MAX_WR} in modify SRQ). */
  public static final long SRQ_RESIZE = 1L << 13;
  /** A CQ can notify after N completions. */
  public static final long N_NOTIFY_CQ = 1L << 14;
  /** Memory windows. */
  public static final long MEM_WINDOW = 1L << 17;
  /** UD IP checksum offload. */
  public static final long UD_IP_CSUM = 1L << 18;
  /** XRC transport. */
  public static final long XRC = 1L << 20;
  /**
   * The base memory management extensions: fast registration (REG_MR), LOCAL_INV and SEND_WITH_INV
   * ({@code IB_DEVICE_MEM_MGT_EXTENSIONS}).
   */
  public static final long MEM_MGT_EXTENSIONS = 1L << 21;
  /** Type 2A memory windows. */
  public static final long MEM_WINDOW_TYPE_2A = 1L << 23;
  /** Type 2B memory windows. */
  public static final long MEM_WINDOW_TYPE_2B = 1L << 24;
  /** RC IP checksum offload. */
  public static final long RC_IP_CSUM = 1L << 25;
  /** Raw packet IP checksum offload. */
  public static final long RAW_IP_CSUM = 1L << 26;
  /** Managed flow steering. */
  public static final long MANAGED_FLOW_STEERING = 1L << 29;

  private static final long[] BITS = {
      RESIZE_MAX_WR, BAD_PKEY_CNTR, BAD_QKEY_CNTR, RAW_MULTI, AUTO_PATH_MIG, CHANGE_PHY_PORT, UD_AV_PORT_ENFORCE,
      CURR_QP_STATE_MOD, SHUTDOWN_PORT, INIT_TYPE, PORT_ACTIVE_EVENT, SYS_IMAGE_GUID, RC_RNR_NAK_GEN, SRQ_RESIZE,
      N_NOTIFY_CQ, MEM_WINDOW, UD_IP_CSUM, XRC, MEM_MGT_EXTENSIONS, MEM_WINDOW_TYPE_2A, MEM_WINDOW_TYPE_2B,
      RC_IP_CSUM, RAW_IP_CSUM, MANAGED_FLOW_STEERING};
  private static final String[] NAMES = {
      "RESIZE_MAX_WR", "BAD_PKEY_CNTR", "BAD_QKEY_CNTR", "RAW_MULTI", "AUTO_PATH_MIG", "CHANGE_PHY_PORT",
      "UD_AV_PORT_ENFORCE", "CURR_QP_STATE_MOD", "SHUTDOWN_PORT", "INIT_TYPE", "PORT_ACTIVE_EVENT",
      "SYS_IMAGE_GUID", "RC_RNR_NAK_GEN", "SRQ_RESIZE", "N_NOTIFY_CQ", "MEM_WINDOW", "UD_IP_CSUM", "XRC",
      "MEM_MGT_EXTENSIONS", "MEM_WINDOW_TYPE_2A", "MEM_WINDOW_TYPE_2B", "RC_IP_CSUM", "RAW_IP_CSUM",
      "MANAGED_FLOW_STEERING"};

  /** Every bit named here. */
  public static final long KNOWN;

  static {
    long all = 0;
    for (long bit : BITS) {
      all |= bit;
    }
    KNOWN = all;
  }

  /** The names of the bits set in {@code flags}, in {@code ibv_devinfo}'s order, e.g. {@code [PORT_ACTIVE_EVENT]}. */
  public static List<String> names(long flags) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < BITS.length; i++) {
      if ((flags & BITS[i]) != 0) {
        out.add(NAMES[i]);
      }
    }
    return out;
  }

  /** The bits of {@code flags} that have no name here (what {@code ibv_devinfo} prints as unknown flags). */
  public static long unknown(long flags) {
    return flags & ~KNOWN;
  }
}
