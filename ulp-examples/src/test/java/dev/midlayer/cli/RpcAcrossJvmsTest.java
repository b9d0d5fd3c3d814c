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
 * {@code midlayer rpc --server} in a second JVM started from the built classpath, and {@code rpc --connect} from
 * this one: more clients than the server admits fail with one line; the clients' calls run over the cluster driver
 * between the two processes, with no RNR NAK; SIGTERM stops the server. No timing is asserted.
 */
class RpcAcrossJvmsTest {
  private static final Pattern SERVING = Pattern.compile("rpc: serving up to 2 clients x 4 credits on one SRQ of 8, "
      + "16-byte responses, on cl0 at 127\\.0\\.0\\.1:(\\d+); SIGINT or SIGTERM stops it");
  private static final Pattern ROW = Pattern.compile(
      "RPC +[1-9]\\d* calls +\\d+ calls/s +p50 +[0-9.]+ us +p99 +[0-9.]+ us +p99\\.9 +[0-9.]+ us +max +[0-9.]+ us");

  private Process server;

  @AfterEach
  void stopServer() throws Exception {
    if (server != null && server.isAlive()) {
      server.destroyForcibly();
      server.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("rpc --connect with more clients than rpc --server in another JVM admits fails on one line; two "
      + "clients then call it without RNR NAKs; SIGTERM stops the server")
  void callsAServerInAnotherJvm() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        MidlayerCli.class.getName(), "rpc", "--server", "--bind", "127.0.0.1:0", "-c", "2", "--credits", "4",
        "--response-size", "16");
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
    }, "rpc-server-stdout");
    reader.setDaemon(true);
    reader.start();
    String line = lines.poll(120, TimeUnit.SECONDS);
    assertTrue(line != null, "the server printed nothing in 120 s");
    Matcher serving = SERVING.matcher(line);
    assertTrue(serving.matches(), line);
    int port = Integer.parseInt(serving.group(1));

    // Three clients ask for 12 receives of an SRQ of 8: the registry adds cl0, cl1, cl2 in turn, so cl2 is refused.
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = client(3).runAgainst("127.0.0.1", port, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(1, code, out);
    assertEquals(List.of("FAILED: 2 of 3 clients connected to cl0 at 127.0.0.1:" + port + " (the server admits as "
        + "many as its --clients; the log says why)"), out.lines().toList());

    // The server takes its credits back when it has seen those two disconnect, on its own time: until then a new
    // client may be refused the same way, and is run again.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    do {
      bytes.reset();
      code = client(2).runAgainst("127.0.0.1", port, new PrintStream(bytes, true, StandardCharsets.UTF_8));
      out = bytes.toString(StandardCharsets.UTF_8);
    } while (code == 1 && out.startsWith("FAILED: ") && out.contains(" of 2 clients connected")
        && System.nanoTime() < deadline);
    assertEquals(0, code, out);
    List<String> got = out.lines().toList();
    assertEquals(3, got.size(), out);
    assertEquals("rpc: 2 clients x 4 credits (the server granted 4), 32-byte requests, cl0..cl1 -> cl0 at 127.0.0.1:"
        + port + ", 1 s after 0 s of warm-up", got.get(0));
    assertTrue(ROW.matcher(got.get(1)).matches(), got.get(1));
    assertEquals("RNR NAKs received by the clients' ports (warm-up included): 0", got.get(2));

    // The server is a node: stat and res read its counters and objects over Artery, from this JVM.
    List<String> stat = admin(0, "stat", "--connect", "127.0.0.1:" + port, "cl0/1");
    assertEquals(1, stat.size(), stat.toString());
    Matcher sent = Pattern.compile("link cl0/1 .*\\bsent_pkts (\\d+)\\b.*").matcher(stat.get(0));
    assertTrue(sent.matches() && Long.parseLong(sent.group(1)) > 0, stat.get(0));
    assertEquals(List.of("midlayer stat: failed: no link cl9 on the node at 127.0.0.1:" + port + " (links: cl0/1)"),
        admin(RunFailures.EXIT_CODE, "stat", "--connect", "127.0.0.1:" + port, "cl9"));
    List<String> res = admin(0, "res", "--connect", "127.0.0.1:" + port);
    assertEquals(1, res.size(), res.toString());
    assertTrue(res.get(0).matches("\\d+: cl0: pd [1-9]\\d* cq [1-9]\\d* qp \\d+ srq 1 mr [1-9]\\d* fmr 0"), res.get(0));
    List<String> srq = admin(0, "res", "srq", "--connect", "127.0.0.1:" + port);
    assertEquals(1, srq.size(), srq.toString());
    assertTrue(srq.get(0).matches("dev cl0 SRQ.* comm rpc-server"), srq.get(0));

    server.destroy(); // SIGTERM: CoordinatedShutdown unregisters the server and the device and leaves the cluster
    assertTrue(server.waitFor(60, TimeUnit.SECONDS), "the server exited on SIGTERM");
    assertEquals(List.of("midlayer res: failed: no midlayer node answered at 127.0.0.1:" + port + " within 2 s "
        + "(start one with: midlayer node --bind 127.0.0.1:" + port + ")"),
        admin(RunFailures.EXIT_CODE, "res", "--connect", "127.0.0.1:" + port, "--timeout", "2"));
  }

  /** Runs {@code midlayer ARGS} in this JVM; its stdout lines, or its stderr lines when it fails. */
  private static List<String> admin(int expectedCode, String... args) {
    java.io.StringWriter out = new java.io.StringWriter();
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new java.io.PrintWriter(out, true));
    cmd.setErr(new java.io.PrintWriter(err, true));
    assertEquals(expectedCode, cmd.execute(args), String.join(" ", args) + ": " + out + err);
    return (expectedCode == 0 ? out : err).toString().lines().toList();
  }

  private static RpcCommand client(int clients) {
    RpcCommand c = new RpcCommand();
    c.clients = clients;
    c.credits = 4;
    c.requestSize = 32;
    c.seconds = 1;
    c.warmup = 0;
    return c;
  }
}
