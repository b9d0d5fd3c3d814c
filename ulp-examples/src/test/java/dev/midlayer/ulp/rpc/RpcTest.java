package dev.midlayer.ulp.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.testkit.MidlayerTestKit;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The rpc template on loopback devices: one server SRQ shared by every client's QP, credits so that no request
 * finds it empty. The kit's shutdown fails on leftovers and monitor violations (BlockHound is installed).
 */
class RpcTest {
  private static final long SERVICE = 0x4D4C_5250_4300_0000L; // "MLRPC"
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int SRQ = 64;
  private static final int CREDITS = 16;

  private MidlayerTestKit kit;
  private Device serverDevice;
  private RpcServer server;
  private dev.midlayer.client.ClientId serverId;
  private RpcClient client;

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  /** A server on lo0 answering "upper-cased request", and a client on each of {@code clients} other devices. */
  private List<RpcChannel> connect(int clients) {
    serverDevice = kit.addDevice("lo%d", 1).device();
    for (int i = 0; i < clients; i++) {
      kit.addDevice("lo%d", 1);
    }
    server = new RpcServer(kit.midlayer(), "rpc-server", d -> d == serverDevice, SERVICE, SRQ, CREDITS,
        req -> {
          if (req.length > 0 && req[0] == '!') {
            throw new IllegalStateException("asked to fail");
          }
          return new String(req, StandardCharsets.UTF_8).toUpperCase().getBytes(StandardCharsets.UTF_8);
        });
    client = new RpcClient(kit.midlayer(), "rpc-client", d -> d == serverDevice ? Optional.empty()
        : Optional.of(CmDestination.gid(serverDevice.cachedPort(1).gids().get(0))), SERVICE);
    serverId = kit.registerClient(server);
    kit.registerClient(client);
    List<RpcChannel> channels = new ArrayList<>();
    for (Device d : kit.midlayer().devices()) {
      client.channel(d).ifPresent(channels::add);
    }
    return channels;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  @DisplayName("four clients share the server's SRQ of 64 with 16 credits each; 4 x 3000 calls, each client "
      + "keeping 40 queued, all answered; no RNR NAK anywhere (the clients retry none: rnr_retry 0)")
  void creditsKeepTheSharedSrqFromRunningDry() throws Exception {
    List<RpcChannel> channels = connect(4);
    assertEquals(4, channels.size());
    List<CompletableFuture<byte[]>> all = new ArrayList<>();
    List<String> asked = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      for (RpcChannel ch : channels) {
        String q = "call " + i + " on " + ch.hashCode();
        asked.add(q);
        all.add(ch.call(bytes(q)).toCompletableFuture());
      }
    }
    for (int i = 0; i < all.size(); i++) {
      assertArrayEquals(bytes(asked.get(i).toUpperCase()), all.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
    }
    assertEquals(12_000, server.calls());
    TransportCounters port = serverDevice.portCounters(1);
    assertEquals(0, port.rnrNaksSent(), "the server's responders never found the SRQ empty: " + port);
    channels.forEach(ch -> assertEquals(CREDITS, ch.credits()));
  }

  @Test
  @DisplayName("a fifth client does not fit (4 x 16 credits fill the SRQ of 64): refused, and it is left alone")
  void aClientBeyondTheCreditsIsRefused() {
    List<RpcChannel> channels = connect(5);
    assertEquals(4, channels.size(), "four connected, the fifth refused");
  }

  @Test
  @DisplayName("a handler that throws fails that call only, naming the exception; the next call is answered")
  void aThrowingHandlerFailsOneCall() throws Exception {
    RpcChannel ch = connect(1).get(0);
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> ch.call(bytes("!boom")).toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertInstanceOf(RpcException.class, e.getCause());
    assertTrue(e.getCause().getMessage().contains("asked to fail"), e.getCause().getMessage());
    assertArrayEquals(bytes("OK"), ch.call(bytes("ok")).toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS));
    IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
        () -> ch.call(new byte[RpcServer.MAX_REQUEST + 1]));
    assertTrue(big.getMessage().contains("at most 1024 bytes, was 1025"), big.getMessage());
  }

  @Test
  @DisplayName("a client's device unplugged with calls in flight: each fails with an RpcException naming the "
      + "unplug, none hangs; the server takes its credits back and another client fits")
  void unplugMidTraffic() throws Exception {
    List<RpcChannel> channels = connect(4);
    RpcChannel first = channels.get(0);
    List<CompletableFuture<byte[]>> inFlight = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      inFlight.add(first.call(bytes("x" + i)).toCompletableFuture());
    }
    LoopbackDevice gone = kit.fabric().devices().stream()
        .filter(d -> client.channel(d.device()).orElse(null) == first).findFirst().orElseThrow();
    kit.removeDevice(gone);
    for (CompletableFuture<byte[]> f : inFlight) {
      try {
        f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        assertInstanceOf(RpcException.class, e.getCause());
      }
    }
    org.awaitility.Awaitility.await().atMost(WAIT).until(() -> server.connections(serverDevice, serverId) == 3);
    Device fifth = kit.addDevice("lo%d", 1).device();
    RpcChannel again = client.channel(fifth).orElseThrow(() -> new AssertionError("the credits came back"));
    assertArrayEquals(bytes("HI"), again.call(bytes("hi")).toCompletableFuture().get(WAIT.toSeconds(),
        TimeUnit.SECONDS));
  }

  @Test
  @DisplayName("a fault: the client's requests dropped, the SEND exhausts its retries and the call fails naming "
      + "RETRY_EXC_ERR")
  void droppedRequestsFailTheCall() throws Exception {
    RpcChannel ch = connect(1).get(0);
    Device clientDevice = kit.midlayer().devices().stream().filter(d -> d != serverDevice).findFirst().orElseThrow();
    kit.fabric().faults(FaultPlan.builder(9).dropAll(FaultPlan.Match.any().direction(new Direction(
        clientDevice.cachedPort(1).gids().get(0), serverDevice.cachedPort(1).gids().get(0))).data()).build());
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> ch.call(bytes("lost")).toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("RETRY_EXC_ERR"), e.getCause().getMessage());
    kit.fabric().clearFaults();
  }
}
