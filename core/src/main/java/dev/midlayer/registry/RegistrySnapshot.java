package dev.midlayer.registry;

import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import java.util.List;
import java.util.Optional;

/**
 * An immutable view of what is registered, published by the registry actor after every change, so
 * that readers never wait on the registry. A device is listed from the moment it is announced (before
 * clients' {@code add}) until its unregistration starts; a client from its registration until its
 * unregistration starts.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param devices registered devices in registration order
 * @param clients registered clients in registration order
 */
public record RegistrySnapshot(List<Device> devices, List<ClientId> clients) {
  /** Nothing registered. */
  public static final RegistrySnapshot EMPTY = new RegistrySnapshot(List.of(), List.of());

  /** A snapshot of copies of {@code devices} and {@code clients}. */
  public RegistrySnapshot {
    devices = List.copyOf(devices);
    clients = List.copyOf(clients);
  }

  /** The registered device with that name, if any. */
  public Optional<Device> device(String name) {
    for (Device d : devices) {
      if (d.name().equals(name)) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }
}
