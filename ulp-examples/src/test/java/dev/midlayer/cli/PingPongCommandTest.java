package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class PingPongCommandTest {

  @ParameterizedTest(name = "busy polling: {0}")
  @ValueSource(booleans = {false, true})
  @DisplayName("midlayer pingpong prints ibv_rc_pingpong's two result lines, the latency percentiles and "
      + "'completed', exit 0; the kit's shutdown finds nothing left behind")
  void printsTheResult(boolean poll, MidlayerTestKit kit) throws Exception {
    PingPongCommand command = new PingPongCommand();
    command.size = 64;
    command.iterations = 300;
    command.poll = poll;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = command.run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.contains("pingpong: 300 iterations of 64 bytes, lo1 -> lo0"), out);
    assertTrue(out.contains("38400 bytes in "), out); // 300 x 64 x 2, as ibv_rc_pingpong counts
    assertTrue(Pattern.compile("300 iters in [0-9.]+ seconds = [0-9.]+ usec/iter").matcher(out).find(), out);
    assertTrue(Pattern.compile("round trip: p50 [0-9.]+ us, p99 [0-9.]+ us, max [0-9.]+ us").matcher(out).find(), out);
    assertTrue(out.strip().endsWith("completed"), out);
  }
}
