package dev.midlayer.client;

import dev.midlayer.device.Device;

/**
 * An upper-level protocol as a plain Java object ({@code struct ib_client}); the midlayer wraps it in a
 * client actor. For a client written as an actor, register a {@code Behavior<ClientMessage>} instead.
 *
 * <p>Threading: the methods are called one at a time (never concurrently for one client), on the
 * midlayer's client dispatcher, where blocking is allowed: a client <b>may sleep</b> in {@code add} and
 * {@code remove} (the seed's rule) and may call may-sleep verbs there, including on the device being
 * added or removed.
 */
public interface Client {

  /** The client's name, unique among registered clients; used in logs. */
  String name();

  /**
   * A device is ready; the client may use it from now on. Called once per device: for every device
   * registered before this client (in device registration order), and for every device registered
   * later (after the clients registered before this one).
   *
   * @param device the device
   * @param self this client's id, the key for {@link Device#setClientData}
   * @return true if the client uses the device; false if it does not (it then never gets
   *     {@code remove} for it)
   * @throws Exception on failure: logged, and treated like returning false
   */
  boolean add(Device device, ClientId self) throws Exception;

  /**
   * The device is going away, or this client is unregistering. The client must release everything it
   * holds on the device before returning; the device stays fully usable until then. Called only for
   * devices whose {@code add} returned true.
   *
   * @param device the device
   * @param self this client's id
   * @param clientData what the client stored with {@link Device#setClientData}, or null
   * @throws Exception logged; the device is still removed
   */
  void remove(Device device, ClientId self, Object clientData) throws Exception;
}
