package dev.midlayer.drivers.cluster;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * The frames being written right now, for the devices' memory fence ({@code DeviceOps.MemoryFence}): Artery's
 * encoder reads registered memory while it serializes a frame, on its own thread, after the QP's engine handed
 * the packet over. A writer enters before it resolves any key and leaves when it is done; the fence waits for
 * the writers it sees. A writer that entered after the fence looked resolves keys that already stopped
 * working (the midlayer fences after invalidating), so it can never touch the old pages. Lock-free but the
 * fence, which may sleep.
 */
final class Transfers {
  private final Set<Object> active = ConcurrentHashMap.newKeySet();

  /** A writer starts reading memory for {@code token} (one per frame). Never blocks; any thread. */
  void enter(Object token) {
    active.add(token);
  }

  /** The writer of {@code token} is done. Never blocks; any thread. */
  void leave(Object token) {
    active.remove(token);
  }

  /**
   * Returns once every writer that had entered when the call began has left. <b>May sleep</b> (parks briefly,
   * for as long as a frame's copy takes); the device actor.
   */
  void await() {
    for (Object t : active.toArray()) {
      long pause = 1_000;
      while (active.contains(t)) {
        LockSupport.parkNanos(pause);
        pause = Math.min(pause * 2, 100_000);
      }
    }
  }
}
