package dev.midlayer.ulp.kv;

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
import dev.midlayer.testkit.MidlayerTestKit;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The key-value template on loopback devices: GETs are RDMA READs of the server's table, PUTs SENDs the server
 * answers. The kit's shutdown fails on leftovers and on monitor violations (BlockHound is installed).
 */
class KvTest {
  private static final long SERVICE = 0x4D4C_4B56_0000_0000L; // "MLKV"
  private static final Duration WAIT = Duration.ofSeconds(30);

  private MidlayerTestKit kit;
  private Device serverDevice;
  private LoopbackDevice clientDevice;
  private KvServer server;
  private KvClient client;

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  private KvStore connect(KvLayout layout, int window) {
    serverDevice = kit.addDevice("lo%d", 1).device();
    clientDevice = kit.addDevice("lo%d", 1);
    server = new KvServer(kit.midlayer(), "kv-server", d -> d == serverDevice, SERVICE, layout);
    client = new KvClient(kit.midlayer(), "kv-client", d -> d == serverDevice ? Optional.empty()
        : Optional.of(CmDestination.gid(serverDevice.cachedPort(1).gids().get(0))), SERVICE, window);
    kit.registerClient(server);
    kit.registerClient(client);
    return client.store(clientDevice.device()).orElseThrow();
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  @DisplayName("500 PUTs then 500 GETs with 16 in flight: every value comes back, a missing key is empty, an "
      + "overwrite is seen; the GETs cost the server no work (its PUT count stays 501)")
  void putsAndGets() throws Exception {
    KvStore store = connect(new KvLayout(2048, 64), 16);
    List<CompletableFuture<Void>> puts = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      puts.add(store.put(bytes("key-" + i), bytes("value-" + i)).toCompletableFuture());
    }
    CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    List<CompletableFuture<Optional<byte[]>>> gets = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      gets.add(store.get(bytes("key-" + i)).toCompletableFuture());
    }
    for (int i = 0; i < 500; i++) {
      assertArrayEquals(bytes("value-" + i), gets.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS).orElseThrow());
    }
    assertEquals(Optional.empty(), await(store.get(bytes("never-put"))));
    await(store.put(bytes("key-7"), bytes("again")));
    assertArrayEquals(bytes("again"), await(store.get(bytes("key-7"))).orElseThrow());
    assertEquals(501, server.puts(), "GETs never reach the server");
    assertEquals(502, store.gets());
  }

  @Test
  @DisplayName("a reader never sees a torn value while a writer PUTs the same key over and over: every GET "
      + "returns one whole value (all its bytes from one PUT)")
  void concurrentPutsNeverTearAGet() throws Exception {
    KvStore store = connect(new KvLayout(64, 256), 8);
    byte[] key = bytes("hot");
    await(store.put(key, filled(0)));
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicReference<Throwable> writerFailed = new AtomicReference<>();
    Thread writer = new Thread(() -> {
      try {
        for (int g = 1; writing.get(); g++) {
          await(store.put(key, filled(g)));
        }
      } catch (Throwable t) {
        writerFailed.set(t);
      }
    }, "kv-writer");
    writer.start();
    try {
      for (int i = 0; i < 3000; i++) {
        byte[] v = await(store.get(key)).orElseThrow();
        for (byte b : v) {
          assertEquals(v[0], b, "GET " + i + " returned a torn value: " + Arrays.toString(v));
        }
      }
    } finally {
      writing.set(false);
      writer.join(WAIT.toMillis());
    }
    assertEquals(null, writerFailed.get());
    System.out.println("torn READs detected and read again: " + store.tornReads());
  }

  private static byte[] filled(int generation) {
    byte[] v = new byte[256];
    Arrays.fill(v, (byte) generation);
    return v;
  }

  @Test
  @DisplayName("bad keys and values are refused at once naming the limit; a full probe window fails the PUT "
      + "with a typed error and the store goes on")
  void badInputAndAFullTable() throws Exception {
    KvStore store = connect(new KvLayout(KvLayout.PROBE, 16), 4); // both windows are the table: four keys
    IllegalArgumentException longKey = assertThrows(IllegalArgumentException.class,
        () -> store.put(new byte[KvLayout.KEY_MAX + 1], bytes("v")));
    assertTrue(longKey.getMessage().contains("1..32 bytes, was 33"), longKey.getMessage());
    IllegalArgumentException longValue = assertThrows(IllegalArgumentException.class,
        () -> store.put(bytes("k"), new byte[17]));
    assertTrue(longValue.getMessage().contains("at most 16 bytes, was 17"), longValue.getMessage());
    for (int i = 0; i < KvLayout.PROBE; i++) {
      await(store.put(bytes("k" + i), bytes("v" + i)));
    }
    ExecutionException full = assertThrows(ExecutionException.class, () -> await(store.put(bytes("k4"), bytes("v"))));
    assertInstanceOf(KvException.class, full.getCause());
    assertTrue(full.getCause().getMessage().contains("full"), full.getCause().getMessage());
    assertArrayEquals(bytes("v3"), await(store.get(bytes("k3"))).orElseThrow());
  }

  @Test
  @DisplayName("the client's device unplugged with operations in flight: each one fails with a KvException, "
      + "none hangs, and nothing is left behind")
  void unplugMidTraffic() throws Exception {
    KvStore store = connect(new KvLayout(1024, 64), 32);
    await(store.put(bytes("a"), bytes("1")));
    List<CompletableFuture<?>> inFlight = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      inFlight.add((i % 2 == 0 ? store.get(bytes("a")) : store.put(bytes("b" + (i % 100)), bytes("x")))
          .toCompletableFuture());
    }
    kit.removeDevice(clientDevice); // returns after the client's remove
    int failed = 0;
    for (CompletableFuture<?> f : inFlight) {
      try {
        f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        assertInstanceOf(KvException.class, e.getCause());
        failed++;
      }
    }
    assertTrue(client.store(clientDevice.device()).isEmpty());
    System.out.println(failed + " of 2000 operations failed with the unplug; the rest had completed");
  }

  @Test
  @DisplayName("a fault: every request packet to the server dropped, the READ exhausts its retries, and the GET "
      + "fails naming RETRY_EXC_ERR")
  void droppedRequestsFailTheOperation() throws Exception {
    KvStore store = connect(new KvLayout(1024, 64), 4);
    await(store.put(bytes("a"), bytes("1")));
    kit.fabric().faults(FaultPlan.builder(3).dropAll(FaultPlan.Match.any().direction(new Direction(
        clientDevice.device().cachedPort(1).gids().get(0), serverDevice.cachedPort(1).gids().get(0))).data())
        .build());
    ExecutionException e = assertThrows(ExecutionException.class, () -> await(store.get(bytes("a"))));
    assertInstanceOf(KvException.class, e.getCause());
    assertTrue(e.getCause().getMessage().contains("RETRY_EXC_ERR"), e.getCause().getMessage());
    kit.fabric().clearFaults();
  }
}
