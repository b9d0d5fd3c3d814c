package dev.midlayer.internal.device;

/**
 * Internal API. An object created on a device (PD, MR, CQ, ...), as the device actor records it. After
 * every client's {@code remove} returned, whatever is still recorded was left behind by a client: the
 * device actor logs {@link #describe()} and calls {@link #reclaim()}, newest first, before the device's
 * unregistration completes.
 */
public interface DeviceResource {
  /** What it is, for the leftover report (e.g. {@code "PD #3"}). */
  String describe();

  /** Frees it without waiting for anything; called on the device actor. */
  void reclaim();

  /**
   * An actor that runs the object's callbacks or work (a CQ's actor, a QP's driver actor), or null.
   * Destroying the object, and unregistering its device, complete only once that actor has stopped:
   * that is what makes them fences (no callback of the object runs afterwards).
   */
  default org.apache.pekko.actor.typed.ActorRef<?> fence() {
    return null;
  }
}
