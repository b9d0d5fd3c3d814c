package dev.midlayer.client;

/**
 * The identity the midlayer gives a registered client. Ids grow with registration order, which is the
 * order clients get {@code add} for a device (and the reverse of {@code remove}). It is also the key of
 * the client's per-device data ({@link dev.midlayer.device.Device#setClientData}). Immutable; safe
 * to use from any thread.
 *
 * @param id registration sequence number, unique for the lifetime of the midlayer
 * @param name the name the client registered with
 */
public record ClientId(int id, String name) {
  @Override
  public String toString() {
    return "client '" + name + "' (#" + id + ")";
  }
}
