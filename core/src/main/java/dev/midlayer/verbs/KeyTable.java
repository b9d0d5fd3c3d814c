package dev.midlayer.verbs;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Internal API. A device's memory keys: a 32-bit key is a 24-bit slot index and an 8-bit variant
 * ({@code index << 8 | variant}), as rxe makes them. A slot that is freed and used again gets the next
 * variant, so a stale key never matches the new region.
 *
 * <p>Threading: {@link #lookup} is lock-free and callable from any thread (it is on the data path).
 * {@link #allocate} and {@link #release} are called only on the device actor (one thread at a time).
 */
public final class KeyTable {
  private final AtomicReferenceArray<MemoryRegion> slots;
  private final byte[] variants;
  private final ArrayDeque<Integer> free = new ArrayDeque<>();
  private int nextUnused = 1; // slot 0 is never used, so key 0 is never valid

  public KeyTable(int capacity) {
    this.slots = new AtomicReferenceArray<>(capacity + 1);
    this.variants = new byte[capacity + 1];
  }

  /** Reserves a slot and returns the key for it, or -1 if the table is full. Device actor only. */
  int allocate() {
    int index;
    if (!free.isEmpty()) {
      index = free.poll();
    } else if (nextUnused < slots.length()) {
      index = nextUnused++;
    } else {
      return -1;
    }
    int variant = ++variants[index] & 0xff;
    return (index << 8) | variant;
  }

  /** Makes {@code key} resolve to {@code mr}. */
  void publish(int key, MemoryRegion mr) {
    slots.set(key >>> 8, mr);
  }


  /**
   * Frees the slot of {@code key} for reuse. Device actor only. The slot's next key continues from the
   * variant of {@code key} (an FMR may have moved it on), so no key it had repeats soon.
   */
  void release(int key) {
    int index = key >>> 8;
    slots.set(index, null);
    variants[index] = (byte) key;
    free.add(index);
  }

  /**
   * The region whose current, VALID lkey or rkey is {@code key}, or null. Lock-free; any thread.
   */
  public MemoryRegion lookup(int key) {
    MrMapping m = resolve(key);
    return m == null ? null : m.region();
  }

  /**
   * What {@code key} resolves to now: the VALID mapping whose lkey or rkey it is, or null (no such slot,
   * a stale variant, an invalidated or unmapped region). Lock-free; any thread; allocates nothing.
   */
  public MrMapping resolve(int key) {
    int index = key >>> 8;
    if (index <= 0 || index >= slots.length()) {
      return null;
    }
    MemoryRegion mr = slots.get(index);
    if (mr == null) {
      return null;
    }
    MrMapping m = mr.mapping();
    return m != null && m.matches(key) ? m : null;
  }

  /**
   * The region in the slot of {@code key}, whatever its variant and state, or null. For invalidation, which
   * checks the key against the region itself. Lock-free; any thread.
   */
  public MemoryRegion slot(int key) {
    int index = key >>> 8;
    return index <= 0 || index >= slots.length() ? null : slots.get(index);
  }

  /** The slot index of a key (for the region's I/O virtual address). */
  static int index(int key) {
    return key >>> 8;
  }
}
