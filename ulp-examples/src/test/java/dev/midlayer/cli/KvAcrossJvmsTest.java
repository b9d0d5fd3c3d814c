package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code midlayer kv --server} in a second JVM started from the built classpath, and {@code kv --connect} from this
 * one: the benchmark runs over the cluster driver between the two processes; a client whose values do not fit
 * the server's table is refused with one line; SIGTERM stops the server. No timing is asserted.
 */
class KvAcrossJvmsTest {
  private static final Pattern SERVING = Pattern.compile(
      "kv: serving a table of 4000 slots for values of up to 64 bytes on cl0 at 127\\.0\\.0\\.1:(\\d+) .*");
  private static final Pattern ROW = Pattern.compile(
      "(GET|PUT) +[1-9]\\d* ops +\\d+ ops/s +p50 +[0-9.]+ us +p99 +[0-9.]+ us +p99\\.9 +[0-9.]+ us +max +[0-9.]+ us");

  private Process server;

  @AfterEach
  void stopServer() throws Exception {
    if (server != null && server.isAlive()) {
      server.destroyForcibly();
      server.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("kv --connect runs the GET/PUT mix against kv --server in another JVM and prints both rows; a "
      + "client with larger values is refused with one line naming the table; SIGTERM stops the server")
  void benchmarkAgainstAServerInAnotherJvm() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        MidlayerCli.class.getName(), "kv", "--server", "--bind", "127.0.0.1:0", "--keys", "1000", "-s", "64");
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    server = pb.start();
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(),
          StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (java.io.IOException gone) {
        // the server exited
      }
    }, "kv-server-stdout");
    reader.setDaemon(true);
    reader.start();
    String line = lines.poll(120, TimeUnit.SECONDS);
    assertTrue(line != null, "the server printed nothing in 120 s");
    Matcher serving = SERVING.matcher(line);
    assertTrue(serving.matches(), line);
    int port = Integer.parseInt(serving.group(1));

    KvCommand client = client(1000, 64);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = client.runAgainst("127.0.0.1", port, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, out);
    assertTrue(out.startsWith("kv: 1000 keys of 64 bytes, 90 % GETs, 8 in flight, cl0 -> cl0 at 127.0.0.1:" + port),
        out);
    assertEquals(2, out.lines().filter(l -> ROW.matcher(l).matches()).count(), out);

    bytes.reset();
    code = client(1000, 128).runAgainst("127.0.0.1", port, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(1, code, out);
    assertEquals(List.of("FAILED: the server's table (4000 slots, values of up to 64 bytes) does not hold 1000 keys "
        + "of 128 bytes"), out.lines().toList());

    server.destroy(); // SIGTERM: CoordinatedShutdown unregisters the server and the device and leaves the cluster
    assertTrue(server.waitFor(60, TimeUnit.SECONDS), "the server exited on SIGTERM");
  }

  private static KvCommand client(int keys, int valueSize) {
    KvCommand c = new KvCommand();
    c.keys = keys;
    c.valueSize = valueSize;
    c.getRatio = 0.9;
    c.window = 8;
    c.seconds = 1;
    return c;
  }
}
