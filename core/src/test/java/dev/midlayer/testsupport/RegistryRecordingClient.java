package dev.midlayer.testsupport;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;

/**
 * A plain {@link Client} for the registry tests: it records every add and remove (start and end) in a
 * {@link RegistryEventLog} and runs test-supplied hooks in between. By default add returns true and
 * remove does nothing.
 */
public final class RegistryRecordingClient implements Client {

  /** What add does between its start and end records; its return value is add's. */
  @FunctionalInterface
  public interface AddHook {
    boolean add(Device device, ClientId self) throws Exception;
  }

  /** What remove does between its start and end records. */
  @FunctionalInterface
  public interface RemoveHook {
    void remove(Device device, ClientId self, Object clientData) throws Exception;
  }

  private final String name;
  private final RegistryEventLog log;
  private volatile AddHook onAdd = (d, s) -> true;
  private volatile RemoveHook onRemove = (d, s, data) -> { };

  public RegistryRecordingClient(String name, RegistryEventLog log) {
    this.name = name;
    this.log = log;
  }

  /** Sets what add does; returns this. */
  public RegistryRecordingClient onAdd(AddHook hook) {
    this.onAdd = hook;
    return this;
  }

  /** Sets what remove does; returns this. */
  public RegistryRecordingClient onRemove(RemoveHook hook) {
    this.onRemove = hook;
    return this;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean add(Device device, ClientId self) throws Exception {
    log.record(RegistryEventLog.Kind.ADD, self, device, null, false);
    boolean result = false;
    try {
      result = onAdd.add(device, self);
      return result;
    } finally {
      log.record(RegistryEventLog.Kind.ADD_END, self, device, null, result);
    }
  }

  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    log.record(RegistryEventLog.Kind.REMOVE, self, device, clientData, false);
    try {
      onRemove.remove(device, self, clientData);
    } finally {
      log.record(RegistryEventLog.Kind.REMOVE_END, self, device, clientData, false);
    }
  }

  @Override
  public String toString() {
    return "RegistryRecordingClient[" + name + "]";
  }
}
