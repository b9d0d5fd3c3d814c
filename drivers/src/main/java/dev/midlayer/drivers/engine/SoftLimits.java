package dev.midlayer.drivers.engine;

import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.PortAttributes;

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
        .maxInlineData(256);
  }

  /** A builder with the port limits set; the driver adds its state, MTU, addresses and link layer. */
  public static PortAttributes.Builder port() {
    return PortAttributes.builder().maxMsgSize(MAX_MSG_SIZE);
  }
}
