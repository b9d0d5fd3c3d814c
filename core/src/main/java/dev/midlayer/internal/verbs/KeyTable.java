package dev.midlayer.internal.verbs;

import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryOpResult;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Internal API. A device's memory keys. A 32-bit key is a 24-bit index and an 8-bit variant
 * ({@code index << 8 | variant}), as in rxe; the low 8 bits are what {@code ib_update_fast_reg_key}
 * changes. The table has {@code capacity} slots, and each slot is reached by many indices: index
 * {@code slot + epoch * (capacity + 1)} for every epoch that keeps it below 2^24. Each use of a slot
 * (registration, FMR map) takes the slot's next <i>generation</i>: the next variant, and past variant 255
 * the next epoch. So a key comes back only after a slot went through all of its 256 × epochs keys (65 536
 * for a device with 65 536 MRs, more for smaller tables), not after 256 as with a bare 8-bit variant:
 * a stale key of a deregistered, invalidated or remapped region does not work again in practice.
 *
 * <p>Threading: {@link #lookup}, {@link #resolve}, {@link #slot} and {@link #nextKey} are lock-free and
 * callable from any thread (the data path and FMR maps use them). {@link #allocate}, {@link #publish}
 * and {@link #release} are called only on the device actor (one thread at a time).
 */
public final class KeyTable implements MemoryKeys {
  private static final int INDICES = 1 << 24;
  private final AtomicReferenceArray<MrImpl> slots;
  /** The modulus from index to slot: slot 0 is never used, so index 0 (and key 0) never resolves. */
  private final int period;
  /** Per slot: the generation of the last key it gave out. */
  private final int[] generations;
  private final ArrayDeque<Integer> free = new ArrayDeque<>();
  private int nextUnused = 1;

  public KeyTable(int capacity) {
    if (capacity < 0 || capacity >= INDICES - 1) {
      throw new IllegalArgumentException("key table capacity must be 0.." + (INDICES - 2) + ", was " + capacity);
    }
    this.slots = new AtomicReferenceArray<>(capacity + 1);
    this.period = capacity + 1;
    this.generations = new int[capacity + 1];
  }

  /** Reserves a slot and returns its next key, or -1 if the table is full. Device actor only. */
  public int allocate() {
    int slot;
    if (!free.isEmpty()) {
      slot = free.poll();
    } else if (nextUnused < slots.length()) {
      slot = nextUnused++;
    } else {
      return -1;
    }
    int gen = (generations[slot] + 1) % generationsOf(slot);
    generations[slot] = gen;
    return keyOf(slot, gen);
  }

  /** Makes {@code key}'s slot hold {@code mr}. Device actor only. */
  void publish(int key, MrImpl mr) {
    slots.set(slotOf(key), mr);
  }

  /**
   * Frees the slot of {@code key} for reuse. Device actor only. The slot's next key continues after
   * {@code key} (an FMR may have moved it on), so none of its recent keys repeats.
   *
   * @param consumerVariants true if the consumer chose the low 8 bits of the keys this slot had (a
   *     fast-registration region, {@code updateFastRegKey}): any variant of the key's index may have been
   *     handed out, so the slot goes on with the next index
   */
  public void release(int key, boolean consumerVariants) {
    int slot = slotOf(key);
    slots.set(slot, null);
    int gen = generationOf(key);
    generations[slot] = consumerVariants ? ((gen >>> 8) << 8 | 0xff) % generationsOf(slot) : gen;
    free.add(slot);
  }

  /** {@link #release(int, boolean)} of a key the table chose. */
  public void release(int key) {
    release(key, false);
  }

  /**
   * The key after {@code key} in its slot's sequence (the next generation), for a region that takes a new
   * key without a new slot (an FMR map). Pure arithmetic; any thread.
   */
  public int nextKey(int key) {
    int slot = slotOf(key);
    return keyOf(slot, (generationOf(key) + 1) % generationsOf(slot));
  }

  /**
   * The region whose current, VALID lkey or rkey is {@code key}, or null. Lock-free; any thread.
   */
  public MrImpl lookup(int key) {
    MrMapping m = resolve(key);
    return m == null ? null : m.region();
  }

  /**
   * What {@code key} resolves to now: the VALID mapping whose lkey or rkey it is, or null (no such slot,
   * a stale key, an invalidated or unmapped region). Lock-free; any thread; allocates nothing.
   */
  @Override
  public MrMapping resolve(int key) {
    MrImpl mr = slot(key);
    if (mr == null) {
      return null;
    }
    MrMapping m = mr.mapping();
    return m != null && m.matches(key) ? m : null;
  }

  /**
   * The region in the slot of {@code key}, whatever its key and state, or null. For invalidation, which
   * checks the key against the region itself. Lock-free; any thread.
   */
  public MrImpl slot(int key) {
    int slot = slotOf(key);
    return slot == 0 ? null : slots.get(slot);
  }

  @Override
  public MemoryOpResult invalidate(int key, int pdHandle) {
    MrImpl mr = slot(key);
    if (mr == null) {
      return MemoryOpResult.refused(MemoryOpResult.Refusal.NO_SUCH_KEY, String.format("no region has key 0x%08x", key));
    }
    if (mr.pd().handle() != pdHandle) {
      return MemoryOpResult.refused(MemoryOpResult.Refusal.OTHER_PD,
          String.format("key 0x%08x is of %s, the QP of PD #%d", key, mr.pd(), pdHandle));
    }
    return mr.invalidate(key);
  }

  /** The 24-bit index of a key (the part {@code ib_update_fast_reg_key} keeps). */
  public static int index(int key) {
    return key >>> 8;
  }

  /** The slot a key lives in. */
  public int slotOf(int key) {
    return (key >>> 8) % period;
  }

  private int generationsOf(int slot) {
    int epochs = (INDICES - 1 - slot) / period + 1;
    return epochs * 256;
  }

  private int generationOf(int key) {
    return ((key >>> 8) / period) << 8 | (key & 0xff);
  }

  private int keyOf(int slot, int gen) {
    int index = slot + (gen >>> 8) * period;
    return index << 8 | (gen & 0xff);
  }
}
