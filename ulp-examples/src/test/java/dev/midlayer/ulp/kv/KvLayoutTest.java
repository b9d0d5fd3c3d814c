package dev.midlayer.ulp.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The reader's side of the table: what a GET makes of a copy of a probe window, torn or whole. */
class KvLayoutTest {
  private final KvLayout layout = new KvLayout(KvLayout.PROBE, 32);
  private final byte[] key = "k".getBytes(StandardCharsets.UTF_8);
  private final byte[] value = "the value".getBytes(StandardCharsets.UTF_8);

  /** A table whose slot 1 holds the key, written by the server's own code. */
  private ByteBuffer table() {
    ByteBuffer t = ByteBuffer.allocateDirect((int) layout.tableBytes());
    new KvTable(layout, t).put(key, value);
    return t;
  }

  private int slotOf(ByteBuffer t) {
    for (int s = 0; s < KvLayout.PROBE; s++) {
      if ((t.getShort(s * layout.slotSize() + KvLayout.KEY_LEN) & 0xFFFF) == key.length) {
        return s * layout.slotSize();
      }
    }
    throw new AssertionError("the key is in no slot");
  }

  @Test
  @DisplayName("a whole slot gives the value; a key in no slot gives null")
  void wholeSlots() {
    ByteBuffer t = table();
    assertArrayEquals(value, layout.find(t, 0, key));
    assertNull(layout.find(t, 0, "other".getBytes(StandardCharsets.UTF_8)));
    assertEquals(2, t.getLong(slotOf(t)), "one PUT: version 0 -> 2");
  }

  @Test
  @DisplayName("a copy taken while the server wrote the slot is torn: versions that differ, an odd version, or a "
      + "body that does not match its checksum")
  void tornCopies() {
    ByteBuffer differ = table();
    differ.putLong(slotOf(differ) + layout.endVersion(), 4); // the trailing version of a later write
    assertSame(KvLayout.TORN_MARK, layout.find(differ, 0, key));

    ByteBuffer odd = table();
    odd.putLong(slotOf(odd), 3).putLong(slotOf(odd) + layout.endVersion(), 3); // being written
    assertSame(KvLayout.TORN_MARK, layout.find(odd, 0, key));

    ByteBuffer body = table();
    body.put(slotOf(body) + KvLayout.VALUE, (byte) 'X'); // versions whole, value half new
    assertSame(KvLayout.TORN_MARK, layout.find(body, 0, key));
  }
}
