package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class FetchCommandTest {

  @Test
  @DisplayName("midlayer fetch checks every byte and reports one remote invalidation per fetch")
  void fetchesAndChecks(MidlayerTestKit kit) throws Exception {
    FetchCommand command = new FetchCommand();
    command.fetches = 500;
    command.storeMib = 1;
    command.depth = 4;
    command.pages = 4;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = command.run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.contains("ok: 500 fetches"), out);
    assertTrue(out.contains("500 keys invalidated by the target"), out);
  }
}
