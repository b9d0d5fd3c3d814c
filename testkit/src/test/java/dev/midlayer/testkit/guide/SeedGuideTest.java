package dev.midlayer.testkit.guide;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.testkit.ConnectedPair;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.testkit.Traffic;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The example of {@code testkit/README.md}, "Replaying a seed": a randomized test whose seed replays it. */
class SeedGuideTest {
  // README: replaying-a-seed
  @RegisterExtension
  final Seeds seeds = new Seeds();

  private final MidlayerTestKit kit = MidlayerTestKit.create();

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  @Test
  @DisplayName("a stream of a random length, size and window arrives whole")
  void randomStream() {
    Random random = seeds.random();          // the same numbers whenever the seed is the same
    int messages = 1 + random.nextInt(500);
    int bytes = random.nextInt(4097);
    int window = 1 + random.nextInt(64);
    try (ConnectedPair pair = ConnectedPair.rc(kit).build()) {
      Traffic.Stream s = Traffic.stream(pair, messages, bytes, window, Duration.ofSeconds(60));
      assertEquals(messages, s.receives().size(), () -> messages + " messages of " + bytes + " B, window " + window);
    }
  }
  // README: end
}
