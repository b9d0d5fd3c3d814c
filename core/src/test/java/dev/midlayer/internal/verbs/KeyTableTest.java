package dev.midlayer.internal.verbs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Key generations: a slot reused again and again gives every key of its sequence once before any repeats. */
class KeyTableTest {

  @Test
  @DisplayName("one slot reused: 256 x epochs distinct keys before the first repeat, never key 0, always the same slot")
  void aReusedSlotCyclesThroughEveryKeyOfItsSlot() {
    int capacity = 4095; // period 4096: 4096 epochs of 256 variants for slot 1
    KeyTable keys = new KeyTable(capacity);
    Set<Integer> seen = new HashSet<>();
    int first = keys.allocate();
    int slot = keys.slotOf(first);
    seen.add(first);
    int key = first;
    int expectedCycle = ((1 << 24) - 1 - slot) / (capacity + 1) * 256 + 256;
    for (int i = 1; i < expectedCycle; i++) {
      keys.release(key);
      key = keys.allocate();
      assertNotEquals(0, key);
      assertEquals(slot, keys.slotOf(key), "the freed slot is the only one, so it is reused");
      assertTrue(seen.add(key), "use " + i + ": key repeated early");
    }
    keys.release(key);
    assertEquals(first, keys.allocate(), "after the whole cycle the first key comes back");
  }

  @Test
  @DisplayName("release continues after a key moved on by FMR maps (nextKey), so those keys are not handed out next")
  void releaseContinuesAfterNextKey() {
    KeyTable keys = new KeyTable(16);
    int k = keys.allocate();
    Set<Integer> used = new HashSet<>();
    used.add(k);
    for (int i = 0; i < 300; i++) { // past a variant wrap: the index moves to the next epoch
      k = keys.nextKey(k);
      assertTrue(used.add(k), "map " + i + " repeated a key");
    }
    keys.release(k);
    for (int i = 0; i < 100; i++) {
      int again = keys.allocate();
      assertTrue(used.add(again), "allocation " + i + " after release gave a key of the FMR's past");
      keys.release(again);
    }
  }

  @Test
  @DisplayName("a slot whose variants the consumer chose (fast registration) goes on with the next index: none "
      + "of the 256 keys of its index comes back")
  void consumerVariantsMoveToTheNextIndex() {
    KeyTable keys = new KeyTable(16);
    int k = keys.allocate();
    int index = KeyTable.index(k);
    keys.release((k & ~0xff) | ((k - 1) & 0xff), true); // the last key registered was a variant below the first
    int next = keys.allocate();
    assertEquals(keys.slotOf(k), keys.slotOf(next), "the same slot");
    assertNotEquals(index, KeyTable.index(next), "a new index: no variant of the old one");
  }

  @Test
  @DisplayName("unknown, zero and out-of-table keys never resolve; an empty table allocates nothing")
  void strayKeys() {
    KeyTable keys = new KeyTable(8);
    assertNull(keys.resolve(0));
    assertNull(keys.resolve(-1));
    assertNull(keys.slot(9 << 8), "index 9 is slot 0 of the second epoch: never used");
    assertEquals(-1, new KeyTable(0).allocate());
  }
}
