package dev.midlayer.ulp.kv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The server's writes to its table ({@link KvLayout}), from the completion callbacks of every connection at once:
 * a writer owns a slot by moving its version from even to odd with a compare-and-set, writes the key, the value
 * and the checksum, then publishes the trailing version and the leading one as the next even number. Never
 * blocks: a writer that finds a slot owned spins the few hundred nanoseconds a slot write takes.
 */
final class KvTable {
  private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /** What a PUT did. */
  enum Put { STORED, FULL }

  private final KvLayout layout;
  private final ByteBuffer table;

  /** A table over {@code table} (a direct buffer of {@code layout.tableBytes()} bytes, all zero: every slot free). */
  KvTable(KvLayout layout, ByteBuffer table) {
    this.layout = layout;
    this.table = table.duplicate().order(ByteOrder.BIG_ENDIAN);
  }

  /** Stores {@code value} under {@code key} in its probe window: in the key's slot, or else the first free one. */
  Put put(byte[] key, byte[] value) {
    while (true) {
      int slot = choose(key);
      if (slot < 0) {
        return Put.FULL;
      }
      int at = slot * layout.slotSize();
      long v = lock(at);
      int keyLen = table.getShort(at + KvLayout.KEY_LEN) & 0xFFFF;
      boolean ours = keyLen == 0 || (keyLen == key.length && sameKey(at, key));
      if (ours) {
        table.putShort(at + KvLayout.KEY_LEN, (short) key.length);
        table.putShort(at + KvLayout.VALUE_LEN, (short) value.length);
        table.put(at + KvLayout.KEY, key);
        table.put(at + KvLayout.VALUE, value);
        table.putInt(at + KvLayout.CHECKSUM, KvLayout.checksum(key, value));
      }
      unlock(at, v);
      if (ours) {
        return Put.STORED;
      }
      // Another writer took the free slot first: look again.
    }
  }

  /**
   * The slot of {@code key} in either window, or else a free one in the window with more free slots (the first
   * on a tie), or -1 (read without owning: re-checked under the slot's version).
   */
  private int choose(byte[] key) {
    int best = -1;
    int bestFree = 0;
    for (int w = 0; w < KvLayout.WINDOWS; w++) {
      int start = layout.probeStart(key, w);
      int firstFree = -1;
      int free = 0;
      for (int s = start; s < start + KvLayout.PROBE; s++) {
        int at = s * layout.slotSize();
        int keyLen = table.getShort(at + KvLayout.KEY_LEN) & 0xFFFF;
        if (keyLen == key.length && sameKey(at, key)) {
          return s;
        }
        if (keyLen == 0) {
          free++;
          if (firstFree < 0) {
            firstFree = s;
          }
        }
      }
      if (free > bestFree) {
        bestFree = free;
        best = firstFree;
      }
    }
    return best;
  }

  private boolean sameKey(int at, byte[] key) {
    byte[] k = new byte[key.length];
    table.get(at + KvLayout.KEY, k);
    return Arrays.equals(k, key);
  }

  /** Takes the slot at {@code at}: its version from even v to v + 1. Returns v. */
  private long lock(int at) {
    while (true) {
      long v = (long) LONGS.getVolatile(table, at);
      if ((v & 1) == 0 && LONGS.compareAndSet(table, at, v, v + 1)) {
        return v;
      }
      Thread.onSpinWait();
    }
  }

  /** Publishes the slot: the trailing version, then the leading one, as v + 2. */
  private void unlock(int at, long v) {
    LONGS.setRelease(table, at + layout.endVersion(), v + 2);
    LONGS.setRelease(table, at, v + 2);
  }
}
