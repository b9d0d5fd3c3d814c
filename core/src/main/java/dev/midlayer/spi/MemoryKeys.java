package dev.midlayer.spi;

/**
 * A device's memory keys as a driver uses them: resolving the lkey or rkey of a work request to the memory
 * it names, and invalidating a fast-registration key for a SEND_WITH_INV. The midlayer owns the key table
 * and every region's translation; a driver never sees the regions themselves.
 *
 * <p>Threading: lock-free; every method never blocks and may be called from any thread (the data path calls
 * it from driver actors).
 */
public interface MemoryKeys {
  /**
   * What {@code key} resolves to now: the VALID mapping whose lkey or (non-zero) rkey it is, or null (no
   * such key, a stale key, an invalidated or unmapped region). Allocates nothing. The mapping is a snapshot:
   * it stays consistent for the whole access even if another thread invalidates the key meanwhile.
   */
  MemoryMapping resolve(int key);

  /**
   * Invalidates the fast-registration region whose current key is {@code key}, if it belongs to the
   * protection domain {@code pdHandle} (a responder executing a SEND_WITH_INV). Lock-free.
   */
  MemoryOpResult invalidate(int key, int pdHandle);
}
