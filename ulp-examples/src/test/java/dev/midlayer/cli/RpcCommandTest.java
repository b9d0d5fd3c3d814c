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
class RpcCommandTest {
  private static final Pattern ROW = Pattern.compile(
      "RPC +[1-9]\\d* calls +[1-9]\\d* calls/s +p50 +[0-9.]+ us +p99 +[0-9.]+ us +p99\\.9 +[0-9.]+ us +max +[0-9.]+ us");

  @Test
  @DisplayName("midlayer rpc connects every client to the shared SRQ, runs the calls and prints a row of RPC/s and "
      + "percentiles and 0 RNR NAKs, exit 0; the kit's shutdown finds nothing left behind")
  void printsCallsPerSecondAndPercentiles(MidlayerTestKit kit) throws Exception {
    RpcCommand command = new RpcCommand();
    command.clients = 3;
    command.credits = 8;
    command.requestSize = 100;
    command.responseSize = 20;
    command.seconds = 1;
    command.warmup = 1;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = command.run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.startsWith("rpc: 3 clients x 8 credits, 100-byte requests, 20-byte responses, one SRQ of 24 on "
        + "lo0, 1 s after 1 s of warm-up"), out);
    assertEquals(1, out.lines().filter(l -> ROW.matcher(l).matches()).count(), out);
    assertTrue(out.contains("RNR NAKs sent by the server's port (warm-up included): 0"), out);
  }
}
