package dev.midlayer.internal;

import dev.midlayer.client.ClientMessage;
import dev.midlayer.device.Device;
import dev.midlayer.verbs.QueuePair;
import java.util.HashMap;
import java.util.Map;

/**
 * Internal API. The SLF4J MDC keys the midlayer sets on its log lines (logback: {@code %X{midlayer.device}}),
 * and the MDC of a client actor's message. The device, event, client, CQ and CM actors carry them on every line
 * they log (Pekko's {@code Behaviors.withMdc}), and so does consumer code they call (a client's add and remove, a
 * CQ's handlers, a CM event handler); the transport engine and the cluster link's receiver set them on their few
 * lines themselves, leaving the data path without a per-message MDC.
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

  /** A line about {@code device} (null: none), its port {@code port} (0: none) and {@code qp} (null: none). */
  public static Map<String, String> of(Device device, int port, QueuePair qp) {
    Map<String, String> m = new HashMap<>(4);
    if (device != null) {
      m.put(DEVICE, device.name());
    }
    if (port > 0) {
      m.put(PORT, String.valueOf(port));
    }
    if (qp != null) {
      m.put(QP, String.valueOf(qp.qpNum()));
    }
    return m;
  }

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
