package dev.midlayer.ulp.pingpong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.fault.Direction;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import dev.midlayer.ulp.pingpong.PingPongResult.Outcome;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The pingpong template as its users run it: server and client registered as clients of the midlayer, connected
 * through the CM, on loopback devices and across two cluster nodes, with devices unplugged under traffic and
 * a fault on the wire. Every test ends with {@code kit.shutdown()}, which fails on anything the ULP left behind
 * and on any violation the contract monitor saw (BlockHound is installed in these tests).
 */
class PingPongTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final long SERVICE = PingPongOptions.SERVICE_ID;

  private final BlockingQueue<PingPongResult> results = new LinkedBlockingQueue<>();
  private MidlayerTestKit kit;

  @AfterEach
  void shutdown() {
    if (kit != null) {
      kit.shutdown();
    }
  }

  private MidlayerTestKit loopbackKit() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    return kit;
  }

  /** The client side's destination: the server's device, by its port-1 GID; none for the server's own device. */
  private static java.util.function.Function<Device, Optional<CmDestination>> towards(Device server) {
    return d -> d == server ? Optional.empty() : Optional.of(CmDestination.gid(server.cachedPort(1).gids().get(0)));
  }

  private PingPongResult nextResult() throws InterruptedException {
    PingPongResult r = results.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertNotNull(r, "a session result within " + WAIT);
    return r;
  }

  private void runsToCompletion(PingPongOptions options) throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    Device lo1 = k.addDevice("lo%d", 1).device();
    PingPongServer server = new PingPongServer(k.midlayer(), "pong", d -> d == lo0, SERVICE, options.busyPoll());
    ClientId serverId = k.registerClient(server);
    ClientId clientId = k.registerClient(new PingPongClient(k.midlayer(), "ping", towards(lo0), SERVICE, options,
        results::add));

    PingPongResult r = nextResult();
    assertEquals(Outcome.COMPLETED, r.outcome(), r::report);
    assertEquals(options.iterations(), r.iterations());
    assertEquals(options.iterations(), r.roundTrip().getTotalCount(), "one latency sample per round trip");
    assertEquals(lo1.name(), r.device());
    assertEquals(0, r.flushed());
    assertTrue(r.roundTripMicros(50) > 0 && r.roundTripMicros(50) <= r.roundTripMicros(100), r::report);
    // The server counts an echo when its SEND completed (ACKed), which may come after the client saw the echo.
    Awaitility.await().atMost(WAIT).until(() -> server.echoes() >= options.iterations());

    k.unregisterClient(clientId);
    Awaitility.await().atMost(WAIT).until(() -> server.connections(lo0, serverId) == 0);
    k.unregisterClient(serverId);
  }

  @Test
  @DisplayName("loopback, completions by the CQ's actor: every round trip completes, one latency sample each")
  void completionsInTheCqActor() throws Exception {
    runsToCompletion(PingPongOptions.defaults().withSize(64).withIterations(2000));
  }

  @Test
  @DisplayName("loopback, busy polling (DIRECT CQs, a poller thread per endpoint): the same")
  void busyPolling() throws Exception {
    runsToCompletion(PingPongOptions.defaults().withSize(4096).withIterations(2000).withBusyPoll(true));
  }

  @Test
  @DisplayName("the client's device unplugged mid-traffic: the session stops with what it measured, nothing is "
      + "left behind, and a device plugged in again gets a new session")
  void clientDeviceUnpluggedMidTraffic() throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    LoopbackDevice lo1 = k.addDevice("lo%d", 1);
    PingPongServer server = new PingPongServer(k.midlayer(), "pong", d -> d == lo0, SERVICE, false);
    ClientId serverId = k.registerClient(server);
    PingPongClient client = new PingPongClient(k.midlayer(), "ping", towards(lo0), SERVICE,
        PingPongOptions.defaults().withSize(256).withIterations(Long.MAX_VALUE), results::add);
    k.registerClient(client);
    Awaitility.await().atMost(WAIT).until(() -> client.roundTrips() > 200);

    k.removeDevice(lo1); // returns after the client's remove: drained and destroyed
    PingPongResult stopped = nextResult();
    assertEquals(Outcome.STOPPED, stopped.outcome(), stopped::report);
    assertTrue(stopped.iterations() > 200, stopped::report);
    Awaitility.await().atMost(WAIT).until(() -> server.connections(lo0, serverId) == 0);

    long before = client.roundTrips();
    LoopbackDevice lo2 = k.addDevice("lo%d", 1);
    Awaitility.await().atMost(WAIT).until(() -> client.roundTrips() > before + 200);
    k.removeDevice(lo2);
    PingPongResult second = nextResult();
    assertEquals(Outcome.STOPPED, second.outcome(), second::report);
    assertEquals(lo2.name(), second.device());
  }

  @Test
  @DisplayName("the server's device unplugged mid-traffic: the client's session ends DISCONNECTED, its "
      + "outstanding work requests flushed, and the client's remove still leaves nothing behind")
  void serverDeviceUnpluggedMidTraffic() throws Exception {
    MidlayerTestKit k = loopbackKit();
    LoopbackDevice lo0 = k.addDevice("lo%d", 1);
    k.addDevice("lo%d", 1);
    k.registerClient(new PingPongServer(k.midlayer(), "pong", d -> d == lo0.device(), SERVICE, false));
    PingPongClient client = new PingPongClient(k.midlayer(), "ping", towards(lo0.device()), SERVICE,
        PingPongOptions.defaults().withSize(256).withIterations(Long.MAX_VALUE), results::add);
    k.registerClient(client);
    Awaitility.await().atMost(WAIT).until(() -> client.roundTrips() > 200);

    k.removeDevice(lo0);
    PingPongResult r = nextResult();
    assertEquals(Outcome.DISCONNECTED, r.outcome(), r::report);
    assertTrue(r.flushed() >= 1, "the receive posted for the next echo was flushed: " + r.report());
  }

  @Test
  @DisplayName("a fault: every request packet from the client to the server dropped from some point on, the "
      + "ping's SEND exhausts its retries and the session FAILS naming RETRY_EXC_ERR; the receive behind it is "
      + "flushed")
  void droppedPacketsFailTheSession() throws Exception {
    MidlayerTestKit k = loopbackKit();
    Device lo0 = k.addDevice("lo%d", 1).device();
    Device lo1 = k.addDevice("lo%d", 1).device();
    k.registerClient(new PingPongServer(k.midlayer(), "pong", d -> d == lo0, SERVICE, false));
    PingPongClient client = new PingPongClient(k.midlayer(), "ping", towards(lo0), SERVICE,
        PingPongOptions.defaults().withSize(64).withIterations(Long.MAX_VALUE), results::add);
    k.registerClient(client);
    Awaitility.await().atMost(WAIT).until(() -> client.roundTrips() > 100);

    Direction toServer = new Direction(lo1.cachedPort(1).gids().get(0), lo0.cachedPort(1).gids().get(0));
    k.fabric().faults(FaultPlan.builder(11).dropAll(FaultPlan.Match.any().direction(toServer).data()).build());
    PingPongResult r = nextResult();
    assertEquals(Outcome.FAILED, r.outcome(), r::report);
    assertTrue(r.detail().contains("RETRY_EXC_ERR"), r::report);
    assertEquals(1, r.flushed(), r::report);
    k.fabric().clearFaults();
  }

  @Test
  @DisplayName("across two cluster nodes (Artery in one JVM): server on one node's device, client on the other's")
  void acrossClusterNodes() throws Exception {
    DriverUnderTest cluster = DriverUnderTest.cluster();
    kit = MidlayerTestKit.create(cluster.config());
    try {
      Device here = cluster.addDevice(kit, 1);
      Device there = cluster.addDevice(kit, 1); // on the peer node
      Midlayer serverSide = cluster.midlayerOf(kit, here);
      Midlayer clientSide = cluster.midlayerOf(kit, there);
      ClientId serverId = await(serverSide.registerClient(new PingPongServer(serverSide, "pong", d -> d == here,
          SERVICE, false)));
      PingPongOptions options = PingPongOptions.defaults().withSize(1024).withIterations(500);
      ClientId clientId = await(clientSide.registerClient(new PingPongClient(clientSide, "ping", towards(here),
          SERVICE, options, results::add)));

      PingPongResult r = nextResult();
      assertEquals(Outcome.COMPLETED, r.outcome(), r::report);
      assertEquals(500, r.iterations());
      await(clientSide.unregisterClient(clientId));
      await(serverSide.unregisterClient(serverId));
      cluster.removeDevice(kit, there);
      cluster.removeDevice(kit, here);
    } finally {
      cluster.close(kit);
    }
  }

  @Test
  @DisplayName("the README's example, as written there, in an application's own actor system")
  void theReadmeExample() throws Exception {
    java.util.concurrent.CompletableFuture<PingPongResult> printed = new java.util.concurrent.CompletableFuture<>();
    // -- as in README.md "Using it", but for the result going to a future the test can wait for --
    org.apache.pekko.actor.typed.ActorSystem<Void> system = org.apache.pekko.actor.typed.ActorSystem.create(
        org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "app");
    try {
      Midlayer midlayer = Midlayer.get(system);
      dev.midlayer.drivers.loopback.LoopbackFabric fabric = dev.midlayer.drivers.loopback.LoopbackFabric.create(system);
      Device lo0 = fabric.addDevice("lo%d", 1).toCompletableFuture().get().device();
      fabric.addDevice("lo%d", 1).toCompletableFuture().get();
      PingPongServer server = new PingPongServer(midlayer, "pong", d -> d == lo0, PingPongOptions.SERVICE_ID, false);
      PingPongClient client = new PingPongClient(midlayer, "ping",
          d -> d == lo0 ? Optional.empty() : Optional.of(CmDestination.gid(lo0.cachedPort(1).gids().get(0))),
          PingPongOptions.SERVICE_ID, PingPongOptions.defaults().withSize(64).withIterations(10_000),
          printed::complete);
      midlayer.registerClient(server).toCompletableFuture().get();
      ClientId ping = midlayer.registerClient(client).toCompletableFuture().get();
      PingPongResult r = printed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertEquals(Outcome.COMPLETED, r.outcome(), r::report);
      assertEquals(10_000, r.iterations());
      midlayer.unregisterClient(ping).toCompletableFuture().get();
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  private static <T> T await(java.util.concurrent.CompletionStage<T> stage) {
    return MidlayerTestKit.await(stage);
  }
}
