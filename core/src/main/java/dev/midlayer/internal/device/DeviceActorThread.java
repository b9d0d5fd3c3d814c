package dev.midlayer.internal.device;

import dev.midlayer.spi.DriverSelfWaitException;

/**
 * Internal API. Marks the thread while a device actor handles a message (a driver op, a verb's body), so
 * that a may-sleep verb of the same device called from there is refused ({@link DriverSelfWaitException})
 * instead of waiting forever for the actor that runs it. A thread-local read per may-sleep verb.
 */
final class DeviceActorThread {
  private static final ThreadLocal<Mark> CURRENT = new ThreadLocal<>();

  /** The device whose actor runs on this thread now, and what it runs. */
  static final class Mark {
    final DeviceImpl device;
    String running = "a request";

    Mark(DeviceImpl device) {
      this.device = device;
    }
  }

  private DeviceActorThread() {}

  static Mark enter(DeviceImpl device) {
    Mark outer = CURRENT.get();
    CURRENT.set(new Mark(device));
    return outer;
  }

  static void leave(Mark outer) {
    if (outer == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(outer);
    }
  }

  /** Names what the actor runs now (a driver op), for the error. */
  static void running(String what) {
    Mark m = CURRENT.get();
    if (m != null) {
      m.running = what;
    }
  }

  /** Throws if the calling thread is {@code device}'s actor: {@code verb} would wait for itself. */
  static void refuseSelfWait(DeviceImpl device, String verb) {
    Mark m = CURRENT.get();
    if (m != null && m.device == device) {
      throw new DriverSelfWaitException(verb, device.name(), m.running);
    }
  }
}
