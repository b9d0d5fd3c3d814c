package dev.midlayer.device;

/** Where a device is in its life. Transitions only forward, in this order. */
public enum DeviceState {
  /** The driver called register; the midlayer is setting the device up. Not listed yet. */
  REGISTERING,
  /** Announced: listed, and clients get {@code add}. */
  REGISTERED,
  /** Unregistration started: no longer listed, clients' {@code remove} runs; verbs still work. */
  UNREGISTERING,
  /** Unregistration completed: every verb on the device fails with {@link DeviceUnregisteredException}. */
  UNREGISTERED
}
