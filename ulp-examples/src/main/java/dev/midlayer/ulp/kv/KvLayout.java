package dev.midlayer.ulp.kv;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The server's table as both sides see it: {@code slots} fixed-size slots in one memory region the clients read
 * with RDMA READ. A key lives in one of two windows of {@link #PROBE} consecutive slots, each starting at one of
 * the key's two hashes, so a GET is one READ of {@code PROBE} slots, or two when the key is not in the first
 * window. A slot:
 *
 * <pre>
 *   0  version   u64   even when stable; odd while the server writes the slot
 *   8  checksum  u32   CRC32C of the key and the value
 *  12  keyLen    u16   0: the slot is free
 *  14  valueLen  u16
 *  16  key       KEY_MAX bytes
 *  48  value     valueMax bytes
 *  slotSize-8    version again  u64   (the slot size is rounded up to 8 bytes)
 * </pre>
 *
 * A reader takes a slot only if both versions are equal and even and the checksum matches: an RDMA READ is not
 * atomic against the server's writes (nor ordered within itself), so a copy taken while the server wrote is torn,
 * and the reader reads again (FaRM and Pilaf do the same with versions and checksums).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param slots slots in the table, {@link #PROBE} or more
 * @param valueMax the largest value in bytes
 */
public record KvLayout(int slots, int valueMax) {
  /** The largest key in bytes. */
  public static final int KEY_MAX = 32;
  /** The largest table: one direct buffer, one memory region. */
  public static final long MAX_TABLE_BYTES = 1L << 30;
  /** Slots a key may live in, read by one GET. */
  public static final int PROBE = 4;
  static final int VERSION = 0;
  static final int CHECKSUM = 8;
  static final int KEY_LEN = 12;
  static final int VALUE_LEN = 14;
  static final int KEY = 16;
  static final int VALUE = KEY + KEY_MAX;

  /** Checks the sizes, naming the one that is wrong. */
  public KvLayout {
    if (slots < PROBE || slots > 1 << 24) {
      throw new IllegalArgumentException("slots must be " + PROBE + ".." + (1 << 24) + ", was " + slots);
    }
    if (valueMax < 1 || valueMax > 0xFFFF) {
      throw new IllegalArgumentException("valueMax must be 1..65535, was " + valueMax);
    }
    long bytes = (long) slots * ((((KEY + KEY_MAX + valueMax) + 7) & ~7) + 8);
    if (bytes > MAX_TABLE_BYTES) {
      throw new IllegalArgumentException(slots + " slots of " + valueMax + "-byte values take " + (bytes >> 20)
          + " MiB, more than " + (MAX_TABLE_BYTES >> 20) + " MiB");
    }
  }

  /** Bytes per slot, a multiple of 8 (the versions are 8-byte aligned for the server's compare-and-set). */
  public int slotSize() {
    return ((VALUE + valueMax + 7) & ~7) + 8;
  }

  /** Offset of a slot's trailing version. */
  int endVersion() {
    return slotSize() - 8;
  }

  /** Bytes of the table. */
  public long tableBytes() {
    return (long) slots * slotSize();
  }

  /** The windows a key may live in: two ("the power of two choices"), so that a table fills evenly. */
  public static final int WINDOWS = 2;

  /**
   * The first slot of {@code key}'s probe window {@code which} (0 or 1; the window never runs past the table's
   * end). The two come from two independent hashes of the key, CRC32C and CRC32 (a seed in front of one CRC
   * would not do: a CRC is linear, so keys that collide in one window would collide in the other too).
   */
  int probeStart(byte[] key, int which) {
    java.util.zip.Checksum crc = which == 0 ? new CRC32C() : new java.util.zip.CRC32();
    crc.update(key, 0, key.length);
    return (int) (crc.getValue() % (slots - PROBE + 1));
  }

  static int checksum(byte[] key, byte[] value) {
    CRC32C crc = new CRC32C();
    crc.update(key);
    crc.update(value);
    return (int) crc.getValue();
  }

  /** Checks a key's and a value's sizes, naming the one that is wrong. */
  void check(byte[] key, byte[] value) {
    if (key.length < 1 || key.length > KEY_MAX) {
      throw new IllegalArgumentException("a key must be 1.." + KEY_MAX + " bytes, was " + key.length);
    }
    if (value != null && value.length > valueMax) {
      throw new IllegalArgumentException("a value must be at most " + valueMax + " bytes, was " + value.length);
    }
  }

  /**
   * Looks for {@code key} in the {@link #PROBE} slots copied into {@code copy} at {@code at}: its value, null if
   * no stable slot holds it, or {@link #TORN_MARK} if a slot that might hold it was torn (read again).
   */
  byte[] find(ByteBuffer copy, int at, byte[] key) {
    ByteBuffer b = copy.duplicate().order(ByteOrder.BIG_ENDIAN);
    boolean torn = false;
    for (int s = 0; s < PROBE; s++) {
      int slot = at + s * slotSize();
      long v1 = b.getLong(slot + VERSION);
      long v2 = b.getLong(slot + endVersion());
      if (v1 != v2 || (v1 & 1) != 0) {
        torn = true;
        continue;
      }
      int keyLen = b.getShort(slot + KEY_LEN) & 0xFFFF;
      int valueLen = b.getShort(slot + VALUE_LEN) & 0xFFFF;
      if (keyLen != key.length || keyLen > KEY_MAX || valueLen > valueMax) {
        continue; // free, another key, or torn in a way the checksum would catch: another key's slot either way
      }
      byte[] k = new byte[keyLen];
      b.get(slot + KEY, k);
      if (!Arrays.equals(k, key)) {
        continue;
      }
      byte[] value = new byte[valueLen];
      b.get(slot + VALUE, value);
      if (checksum(k, value) != b.getInt(slot + CHECKSUM)) {
        torn = true;
        continue;
      }
      return value;
    }
    return torn ? TORN_MARK : null;
  }

  /** {@link #find}'s answer for "read again". */
  static final byte[] TORN_MARK = new byte[0];
}
