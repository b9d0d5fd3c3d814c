package dev.midlayer.testsupport;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * A plain client for tests: records the devices it was added to and removed from, and runs an
 * optional action inside {@code add} (where the client may sleep).
 */
public final class ContextTestClient implements Client {
  private final String name;
  private final BiConsumer<Device, ClientId> onAdd;
  private final List<String> added = new ArrayList<>();
  private final List<String> removed = new ArrayList<>();

  public ContextTestClient(String name) {
    this(name, null);
  }

  public ContextTestClient(String name, BiConsumer<Device, ClientId> onAdd) {
    this.name = name;
    this.onAdd = onAdd;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean add(Device device, ClientId self) {
    synchronized (this) {
      added.add(device.name());
    }
    if (onAdd != null) {
      onAdd.accept(device, self);
    }
    return true;
  }

  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    synchronized (this) {
      removed.add(device.name());
    }
  }

  /** Names of the devices whose add this client got, in order. */
  public synchronized List<String> added() {
    return new ArrayList<>(added);
  }

  /** Names of the devices whose remove this client got, in order. */
  public synchronized List<String> removed() {
    return new ArrayList<>(removed);
  }
}
