package dev.midlayer.internal.device;

/**
 * Internal API. An object created on a device (PD, MR, CQ, ...), as the device actor records it, with the
 * client that owns it. When a client's {@code remove} for the device returned, what it still owns was left
 * behind: the device actor logs {@link #describe()} and calls {@link #reclaim()}, newest first; what no client
 * owns is reclaimed the same way when the device's unregistration completes.
 */
public interface DeviceResource {
  /**
   * The client that owns it: the one that created it ({@link dev.midlayer.client.ClientContext}), or for an
   * object made in a protection domain the PD's owner; null for an object no client created.
   */
  dev.midlayer.client.ClientId owner();

  /** What it is, for the leftover report (e.g. {@code "PD #3"}). */
  String describe();

  /** For a queue pair, what {@code rdma res} shows of it now; null for every other object. Never blocks. */
  default dev.midlayer.device.QpResourceInfo qpInfo() {
    return null;
  }

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

  /**
   * True for a memory region or FMR: after reclaiming one, the device actor waits for the driver's memory
   * fence ({@code dereg_mr}'s DMA wait), so no transfer still touches its memory when the reclaim completes.
   */
  default boolean holdsMemory() {
    return false;
  }

  /**
   * Destroys the objects made with this one that the device actor does not record (a PD's address handles,
   * created without the actor because creating one must not sleep) and returns what they were, for the
   * leftover report. Called on the device actor just before {@link #reclaim()}.
   */
  default java.util.List<String> reclaimDependents() {
    return java.util.List.of();
  }
}
