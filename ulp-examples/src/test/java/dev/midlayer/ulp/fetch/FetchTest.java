package dev.midlayer.ulp.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.verbs.QpConnect;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The fetch template over two loopback devices: FRWR per request, RDMA WRITE, SEND_WITH_INV. */
class FetchTest {
  private static final int STORE = 1 << 20;
  private ActorTestKit testKit;
  private FetchTarget target;
  private FetchInitiator initiator;
  private byte[] store;
  private LoopbackDevice targetDevice;
  private LoopbackDevice initiatorDevice;

  @BeforeEach
  void start() throws Exception {
    testKit = ActorTestKit.create();
    LoopbackFabric fabric = LoopbackFabric.create(testKit.system());
    LoopbackDevice a = fabric.addDevice("lo%d", 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
    LoopbackDevice b = fabric.addDevice("lo%d", 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
    targetDevice = b;
    initiatorDevice = a;
    store = new byte[STORE];
    new Random(7).nextBytes(store);
    ByteBuffer storeBytes = ByteBuffer.allocateDirect(STORE).put(store).flip();
    target = new FetchTarget(b.device(), storeBytes, 8);
    initiator = new FetchInitiator(a.device(), 8, 4);
    target.connect(initiator.lid(), initiator.qpNum(), 500, 100);
    initiator.connect(target.lid(), target.qpNum(), 100, 500);
  }

  @AfterEach
  void stop() {
    initiator.close();
    target.close();
    testKit.shutdownTestKit();
  }

  @Test
  @DisplayName("the target has a receive posted before the initiator can send its next request: with rnr_retry 0 "
      + "(an RNR NAK fails the request with RNR_RETRY_EXC_ERR), 2000 fetches with 8 in flight all succeed")
  void theTargetNeverRunsOutOfReceives() throws Exception {
    ByteBuffer storeBytes = ByteBuffer.allocateDirect(STORE).put(store).flip();
    FetchTarget strictTarget = new FetchTarget(targetDevice.device(), storeBytes, 8);
    FetchInitiator strictInitiator = new FetchInitiator(initiatorDevice.device(), 8, 1);
    try {
      QpConnect.Params noRnrRetry = QpConnect.Params.defaults().withRetries(14, 7, 0, 12);
      strictTarget.connect(strictInitiator.lid(), strictInitiator.qpNum(), 500, 100, noRnrRetry);
      strictInitiator.connect(strictTarget.lid(), strictTarget.qpNum(), 100, 500, noRnrRetry);
      List<CompletableFuture<byte[]>> window = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        window.add(strictInitiator.fetch(i % 1024, 64).toCompletableFuture());
        if (window.size() == 8) {
          for (CompletableFuture<byte[]> f : window) {
            f.get(30, TimeUnit.SECONDS);
          }
          window.clear();
        }
      }
      for (CompletableFuture<byte[]> f : window) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      strictInitiator.close();
      strictTarget.close();
    }
  }

  @Test
  @DisplayName("400 fetches from 4 threads, 50 outstanding against 8 slots: every byte right, every key "
      + "invalidated by the target's SEND_WITH_INV")
  void concurrentFetchesReturnTheStoreBytes() throws Exception {
    List<CompletableFuture<Void>> all = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Random rnd = new Random(t);
      Thread thread = new Thread(() -> {
        for (int i = 1; i <= 100; i++) {
          int length = 1 + rnd.nextInt(initiator.maxLength());
          int offset = rnd.nextInt(STORE - length + 1);
          CompletableFuture<Void> check = initiator.fetch(offset, length).toCompletableFuture().thenAccept(data ->
              assertArrayEquals(Arrays.copyOfRange(store, offset, offset + length), data,
                  "bytes of [" + offset + ", +" + length + ")"));
          all.add(check);
          if (i % 12 == 0) {
            check.join(); // about 50 in flight over the 4 threads, against 8 slots
          }
        }
      });
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) {
      thread.join(60_000);
    }
    CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
    assertEquals(400, all.size());
    assertEquals(400, initiator.invalidatedByTarget(), "each answer invalidated its key remotely");
  }

  @Test
  @DisplayName("a range outside the store fails with FetchException; the slot is invalidated locally and the "
      + "next fetches work; bad lengths are refused at once")
  void refusedRangesRecover() throws Exception {
    for (int i = 0; i < 10; i++) { // more than the 8 slots: each refused slot came back through LOCAL_INV
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> initiator.fetch(STORE - 10, 20).toCompletableFuture().get(10, TimeUnit.SECONDS));
      assertInstanceOf(FetchException.class, e.getCause());
      byte[] data = initiator.fetch(1000 * i, 100).toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertArrayEquals(Arrays.copyOfRange(store, 1000 * i, 1000 * i + 100), data);
    }
    assertEquals(10, initiator.invalidatedByTarget());
    assertThrows(IllegalArgumentException.class, () -> initiator.fetch(0, 0));
    assertThrows(IllegalArgumentException.class, () -> initiator.fetch(0, initiator.maxLength() + 1));
  }

  @Test
  @DisplayName("when the connection fails (the target's link goes down: RETRY_EXC_ERR), the fetches in flight "
      + "and every later one fail with FetchException instead of hanging")
  void aFailedConnectionFailsEveryFetch() throws Exception {
    assertArrayEquals(Arrays.copyOfRange(store, 0, 10),
        initiator.fetch(0, 10).toCompletableFuture().get(10, TimeUnit.SECONDS));
    targetDevice.linkDown(1);
    List<CompletableFuture<byte[]>> inFlight = new ArrayList<>();
    for (int i = 0; i < 20; i++) { // more than the slots: some wait in the queue
      inFlight.add(initiator.fetch(100 * i, 100).toCompletableFuture());
    }
    for (CompletableFuture<byte[]> f : inFlight) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
      assertInstanceOf(FetchException.class, e.getCause());
    }
    ExecutionException later = assertThrows(ExecutionException.class,
        () -> initiator.fetch(0, 10).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertInstanceOf(FetchException.class, later.getCause());
  }

  @Test
  @DisplayName("after close, fetch fails at once with FetchException")
  void fetchAfterClose() throws Exception {
    initiator.close();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> initiator.fetch(0, 10).toCompletableFuture().get(10, TimeUnit.SECONDS));
    assertInstanceOf(FetchException.class, e.getCause());
    initiator = new FetchInitiator(targetDevice.device(), 1, 1); // for stop(): something to close
  }
}
