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


  /** Frees the slot of {@code key} for reuse. Device actor only. */
  void release(int key) {
    slots.set(key >>> 8, null);
    free.add(key >>> 8);
  }

  /**
   * The region whose current lkey or rkey is {@code key}, or null. Lock-free; any thread.
   */
  public MemoryRegion lookup(int key) {
    int index = key >>> 8;
    if (index <= 0 || index >= slots.length()) {
      return null;
    }
    MemoryRegion mr = slots.get(index);
    return mr != null && (mr.lkey() == key || mr.rkey() == key) ? mr : null;
  }

  /** The slot index of a key (for the region's I/O virtual address). */
  static int index(int key) {
    return key >>> 8;
  }
}
