package dev.midlayer.testkit;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/**
 * A {@link Client} that records its callbacks into a {@link CallbackLog} and flags overlapping callbacks
 * (the midlayer must run one callback of a client at a time). By default it accepts every device; give
 * it an {@code onAdd} predicate to decline some or do work in add, and an {@code onRemove} action to do
 * work in remove (both may sleep, as real clients may).
 *
 * <p>Threading: the constructors never block and may be called from any thread; the callbacks run where the
 * midlayer calls them, one at a time, and block only as long as {@code onAdd} and {@code onRemove} do.
 */
public final class RecordingClient implements Client {
  private final String name;
  private final CallbackLog log;
  private final Predicate<Device> onAdd;
  private final BiConsumer<Device, Object> onRemove;
  private final AtomicBoolean inCallback = new AtomicBoolean();

  /** A client named {@code name} that accepts every device and does nothing in remove, recording into {@code log}. */
  public RecordingClient(String name, CallbackLog log) {
    this(name, log, d -> true, (d, data) -> { });
  }

  /**
   * A client named {@code name} that records into {@code log}, accepts the devices {@code onAdd} accepts, and
   * runs {@code onRemove} (with the device and its client data) in every remove.
   */
  public RecordingClient(String name, CallbackLog log, Predicate<Device> onAdd, BiConsumer<Device, Object> onRemove) {
    this.name = name;
    this.log = log;
    this.onAdd = onAdd;
    this.onRemove = onRemove;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean add(Device device, ClientId self) {
    enter("add", device);
    try {
      boolean accepted = onAdd.test(device);
      log.record(name, device.name(), device.index(), CallbackLog.Kind.ADD, accepted);
      return accepted;
    } finally {
      inCallback.set(false);
    }
  }

  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    enter("remove", device);
    try {
      onRemove.accept(device, clientData);
      log.record(name, device.name(), device.index(), CallbackLog.Kind.REMOVE, true);
    } finally {
      inCallback.set(false);
    }
  }

  private void enter(String what, Device device) {
    if (!inCallback.compareAndSet(false, true)) {
      log.violation(name + ": " + what + " of " + device.name() + " started while another callback was running");
    }
  }
}
