package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class MidlayerTestKitNamesTest {
  @Test
  @DisplayName("two kits alive at once have actor systems of different names, so their logs and reports differ")
  void distinctSystemNames() {
    MidlayerTestKit a = MidlayerTestKit.create();
    MidlayerTestKit b = MidlayerTestKit.create();
    try {
      String first = a.testKit().system().name();
      String second = b.testKit().system().name();
      assertNotEquals(first, second);
      assertTrue(first.startsWith("midlayer-test-") && second.startsWith("midlayer-test-"), first + ", " + second);
      assertTrue(a.monitor().report().startsWith("contract monitor of " + first), a.monitor().report());
    } finally {
      a.shutdown();
      b.shutdown();
    }
  }
}
