package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class KvCommandTest {
  private static final Pattern ROW = Pattern.compile(
      "(GET|PUT) +[1-9]\\d* ops +\\d+ ops/s +p50 +[0-9.]+ us +p99 +[0-9.]+ us +p99\\.9 +[0-9.]+ us +max +[0-9.]+ us");

  @Test
  @DisplayName("midlayer kv loads the keys, runs the GET/PUT mix and prints a row of rate and percentiles for "
      + "each, exit 0; the kit's shutdown finds nothing left behind")
  void printsRatesAndPercentiles(MidlayerTestKit kit) throws Exception {
    KvCommand command = new KvCommand();
    command.keys = 500;
    command.valueSize = 64;
    command.getRatio = 0.5;
    command.window = 8;
    command.seconds = 1;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = command.run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.contains("kv: 500 keys of 64 bytes, 50 % GETs, 8 in flight, lo1 -> lo0"), out);
    assertEquals(2, out.lines().filter(l -> ROW.matcher(l).matches()).count(), out);
    assertTrue(out.contains("torn READs read again: "), out);
  }
}
