package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The seed's rules C1-C3, on the caller's thread: a post's doorbell and {@code dispatch_event} never park and
 * never start a thread, because the dispatchers they send to run on executors whose workers were all started
 * with the midlayer; and the midlayer refuses to start on a dispatcher that could. The detector (JFR thread
 * starts and the thread's park and monitor-block counts) is shown to catch a Pekko thread pool that starts
 * its workers on the caller.
 */
class NonBlockingEntryPointsTest {

  /** What a thread did while it ran {@code body}: threads it started, times it parked or waited for a monitor. */
  record Footprint(int threadsStarted, long parks, long monitorBlocks) {}

  static Footprint footprint(Runnable body) throws Exception {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    AtomicReference<long[]> counts = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Path file = Files.createTempFile("nonblocking", ".jfr");
    Thread caller = new Thread(() -> {
      try {
        ThreadInfo before = mx.getThreadInfo(Thread.currentThread().getId());
        body.run();
        ThreadInfo after = mx.getThreadInfo(Thread.currentThread().getId());
        counts.set(new long[] {after.getWaitedCount() - before.getWaitedCount(),
            after.getBlockedCount() - before.getBlockedCount()});
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "caller");
    try (Recording recording = new Recording()) {
      recording.enable("jdk.ThreadStart");
      recording.start();
      caller.start();
      caller.join(30_000);
      recording.stop();
      recording.dump(file);
    }
    if (failure.get() != null) {
      throw new AssertionError("the caller failed", failure.get());
    }
    assertFalse(caller.isAlive(), "the caller finished");
    int started = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
      RecordedThread parent = e.getThread("parentThread");
      if (parent != null && parent.getJavaThreadId() == caller.getId()) {
        started++;
      }
    }
    Files.delete(file);
    return new Footprint(started, counts.get()[0], counts.get()[1]);
  }

  @Test
  @DisplayName("C1-C3: postSend's doorbell and dispatch_event, each waking an idle actor, never start a thread "
      + "or park on the caller's thread")
  void doorbellsAndDispatchEventNeitherParkNorStartThreads() throws Exception {
    try (DpFixture f = DpFixture.start("nonblocking")) {
      DpFixture.Side a = f.side(64, 4096, null);
      DpFixture.Side b = f.side(64, 4096, null);
      QpCap cap = new QpCap(16, 16, 1, 1, 0);
      DpFixture.createQp(a, QpType.RC, cap, true);
      DpFixture.createQp(b, QpType.RC, cap, true);
      DpFixture.connect(a, b);
      AtomicInteger events = new AtomicInteger();
      await(a.dev.device().registerEventHandler("counter", e -> events.incrementAndGet()));
      Runnable rounds = () -> {
        for (int i = 0; i < 200; i++) {
          // Each post finds the QP's actor idle (the previous send completed), so it rings the doorbell.
          b.qp.postRecv(RecvWr.of(i, Sge.of(b.mr, 0, 64)));
          a.qp.postSend(SendWr.send(i, SendFlags.SIGNALED, Sge.of(a.mr, 0, 64)));
          DpFixture.pollOne(a.cq);
          DpFixture.pollOne(b.cq);
          // And each event finds the event actor idle: the one before was delivered.
          int seen = events.get();
          a.dev.driverDevice().dispatchPortEvent(AsyncEventType.SM_CHANGE, 1);
          for (int spins = 0; events.get() == seen; spins++) {
            DpFixture.backOff(spins);
          }
        }
      };
      rounds.run(); // warm up: classes load (which may wait on a class-init lock) before the measurement
      Footprint fp = footprint(rounds);
      assertEquals(new Footprint(0, 0, 0), fp, "threads started, parks and monitor waits on the caller");
    }
  }

  @Test
  @DisplayName("the check can fail: a tell into a Pekko thread-pool-executor whose idle workers timed out starts "
      + "a worker on the caller")
  void theDetectorCatchesAThreadPoolStartingWorkersOnTheCaller() throws Exception {
    ActorTestKit kit = ActorTestKit.create("detector", ConfigFactory.parseString(
        "retiring-pool { type = Dispatcher, executor = thread-pool-executor, thread-pool-executor { "
            + "fixed-pool-size = 4, allow-core-timeout = on, keep-alive-time = 20ms } }")
        .withFallback(ConfigFactory.load()));
    try {
      AtomicInteger got = new AtomicInteger();
      List<ActorRef<String>> actors = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        actors.add(kit.spawn(Behaviors.receiveMessage(m -> {
          got.incrementAndGet();
          return Behaviors.same();
        }), "a" + i, DispatcherSelector.fromConfig("retiring-pool")));
      }
      for (ActorRef<String> a : actors) {
        a.tell("warm");
      }
      // The pool's workers retire 20 ms after their last task (what Pekko's defaults do after 60 s).
      DpFixture.awaitTrue("the retiring pool's workers to retire", () -> got.get() == 4
          && Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().contains("retiring-pool")));
      Footprint fp = footprint(() -> {
        for (ActorRef<String> a : actors) {
          a.tell("hello");
        }
      });
      assertTrue(fp.threadsStarted() > 0, "the detector saw the pool's workers start on the caller: " + fp);
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  @DisplayName("the midlayer refuses to start when the data-path or callback dispatcher could block or start "
      + "threads on the caller, naming the setting and the executor")
  void blockingDispatchersAreRefusedAtStart() {
    for (String key : List.of("data-path", "callback")) {
      ActorTestKit kit = ActorTestKit.create("refused", ConfigFactory.parseString(
          "midlayer.dispatchers." + key + " = \"pekko.actor.default-blocking-io-dispatcher\"")
          .withFallback(ConfigFactory.load()));
      try {
        ConfigException.BadValue e = assertThrows(ConfigException.BadValue.class, () -> Midlayer.get(kit.system()));
        assertTrue(e.getMessage().contains("midlayer.dispatchers." + key)
            && e.getMessage().contains("thread-pool-executor"), e.getMessage());
      } finally {
        kit.shutdownTestKit();
      }
    }
  }
}
