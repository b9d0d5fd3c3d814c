package dev.midlayer.internal;

import dev.midlayer.client.ClientMessage;
import java.util.Map;

/**
 * Internal API. The SLF4J MDC keys the midlayer sets on its log lines (logback: {@code %X{midlayer.device}}),
 * and the MDC of a client actor's message. The device, event, client and CQ actors carry them on every line they
 * log (Pekko's {@code Behaviors.withMdc}), and so does consumer code they call (a client's add and remove, a CQ's
 * handlers); the transport engine sets them on its few lines itself, leaving the data path without a per-message
 * MDC.
 */
public final class LogMdc {
  /** The device's name. */
  public static final String DEVICE = "midlayer.device";
  /** The port number. */
  public static final String PORT = "midlayer.port";
  /** The client, as {@code client 'name' (#id)}. */
  public static final String CLIENT = "midlayer.client";
  /** The QP number. */
  public static final String QP = "midlayer.qp";

  private LogMdc() {}

  /** A client actor's message: the device it is about. */
  public static Map<String, String> forClientMessage(ClientMessage m) {
    if (m instanceof ClientMessage.DeviceAdded a) {
      return Map.of(DEVICE, a.device().name());
    }
    if (m instanceof ClientMessage.DeviceRemoved r) {
      return Map.of(DEVICE, r.device().name());
    }
    return Map.of();
  }
}
