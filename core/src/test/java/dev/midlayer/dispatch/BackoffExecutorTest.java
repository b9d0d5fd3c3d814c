package dev.midlayer.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The callback dispatcher's executor: nothing lost, nothing started on the caller, a blocked task holds one worker. */
class BackoffExecutorTest {
  /** A thread factory that counts the threads it made. */
  private static final class CountingFactory implements ThreadFactory {
    final AtomicInteger made = new AtomicInteger();
    final List<Throwable> uncaught = new CopyOnWriteArrayList<>();

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "backoff-test-" + made.incrementAndGet());
      t.setDaemon(true);
      t.setUncaughtExceptionHandler((th, e) -> uncaught.add(e));
      return t;
    }
  }

  @Test
  @DisplayName("tasks submitted from many threads while the workers park run exactly once: no wake-up is lost")
  void noTaskIsLostWhileWorkersPark() throws Exception {
    CountingFactory factory = new CountingFactory();
    // spins = yields = 0: a worker parks the moment it runs out of work, the narrowest window for a lost wake-up.
    BackoffExecutor.Pool pool = new BackoffExecutor.Pool(2, factory, new BackoffExecutor.Backoff(0, 0));
    try {
      int rounds = 2_000;
      int submitters = 3;
      int perSubmitter = 5;
      AtomicIntegerArray runs = new AtomicIntegerArray(rounds * submitters * perSubmitter);
      for (int round = 0; round < rounds; round++) {
        CountDownLatch done = new CountDownLatch(submitters * perSubmitter);
        Thread[] threads = new Thread[submitters];
        for (int s = 0; s < submitters; s++) {
          int base = (round * submitters + s) * perSubmitter;
          threads[s] = new Thread(() -> {
            for (int i = 0; i < perSubmitter; i++) {
              int slot = base + i;
              pool.execute(() -> {
                runs.incrementAndGet(slot);
                done.countDown();
              });
            }
          });
        }
        for (Thread t : threads) {
          t.start();
        }
        for (Thread t : threads) {
          t.join();
        }
        assertTrue(done.await(10, TimeUnit.SECONDS), "round " + round + ": " + done.getCount() + " tasks never ran");
      }
      for (int i = 0; i < runs.length(); i++) {
        assertEquals(1, runs.get(i), "task " + i);
      }
      assertEquals(2, factory.made.get(), "execute must never start a thread");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("a task that blocks holds its own worker; the others go on taking work")
  void aBlockedTaskHoldsOnlyItsWorker() throws Exception {
    BackoffExecutor.Pool pool = new BackoffExecutor.Pool(2, new CountingFactory(), new BackoffExecutor.Backoff(10, 1));
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch blocked = new CountDownLatch(1);
    try {
      pool.execute(() -> {
        blocked.countDown();
        awaitQuietly(release);
      });
      assertTrue(blocked.await(10, TimeUnit.SECONDS));
      CountDownLatch others = new CountDownLatch(1_000);
      for (int i = 0; i < 1_000; i++) {
        pool.execute(others::countDown);
      }
      assertTrue(others.await(10, TimeUnit.SECONDS), others.getCount() + " tasks waited for the blocked one");
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("a task that throws goes to the thread's handler and its worker goes on")
  void aThrowingTaskDoesNotCostAWorker() throws Exception {
    CountingFactory factory = new CountingFactory();
    BackoffExecutor.Pool pool = new BackoffExecutor.Pool(1, factory, new BackoffExecutor.Backoff(10, 1));
    try {
      pool.execute(() -> {
        throw new IllegalStateException("task failed on purpose");
      });
      CountDownLatch after = new CountDownLatch(1);
      pool.execute(after::countDown);
      assertTrue(after.await(10, TimeUnit.SECONDS), "the only worker died with the failed task");
      assertEquals(1, factory.uncaught.size());
      assertEquals("task failed on purpose", factory.uncaught.get(0).getMessage());
      assertEquals(1, factory.made.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @DisplayName("shutdown refuses new tasks, runs the queued ones and terminates; shutdownNow returns what never ran")
  void shutdownAndShutdownNow() throws Exception {
    BackoffExecutor.Pool pool = new BackoffExecutor.Pool(1, new CountingFactory(), new BackoffExecutor.Backoff(10, 1));
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch blocked = new CountDownLatch(1);
    AtomicInteger ran = new AtomicInteger();
    pool.execute(() -> {
      blocked.countDown();
      awaitQuietly(release);
    });
    assertTrue(blocked.await(10, TimeUnit.SECONDS));
    for (int i = 0; i < 10; i++) {
      pool.execute(ran::incrementAndGet);
    }
    pool.shutdown();
    assertTrue(pool.isShutdown());
    assertThrows(RejectedExecutionException.class, () -> pool.execute(ran::incrementAndGet));
    release.countDown();
    assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    assertTrue(pool.isTerminated());
    assertEquals(10, ran.get(), "tasks queued before shutdown still run");

    BackoffExecutor.Pool second = new BackoffExecutor.Pool(1, new CountingFactory(), new BackoffExecutor.Backoff(10, 1));
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch holding = new CountDownLatch(1);
    second.execute(() -> {
      holding.countDown();
      awaitQuietly(hold);
    });
    assertTrue(holding.await(10, TimeUnit.SECONDS));
    second.execute(() -> { });
    second.execute(() -> { });
    assertEquals(2, second.shutdownNow().size(), "the two queued tasks are returned, not run");
    hold.countDown();
    assertTrue(second.awaitTermination(10, TimeUnit.SECONDS));
  }

  @Test
  @DisplayName("a bad backoff-executor section is refused with a ConfigException naming it")
  void badConfigIsRefused() {
    Config ok = ConfigFactory.parseString("backoff-executor { parallelism-min = 2, parallelism-factor = 1.0, "
        + "parallelism-max = 8, spins = 100, yields = 10 }");
    assertEquals(2, BackoffExecutor.parallelism(ok.getConfig("backoff-executor"), 1));
    assertEquals(4, BackoffExecutor.parallelism(ok.getConfig("backoff-executor"), 4));
    assertEquals(8, BackoffExecutor.parallelism(ok.getConfig("backoff-executor"), 64));
    ConfigException.BadValue sizes = assertThrows(ConfigException.BadValue.class, () -> BackoffExecutor.parallelism(
        ConfigFactory.parseString("parallelism-min = 4, parallelism-factor = 1.0, parallelism-max = 2"), 2));
    assertTrue(sizes.getMessage().contains("backoff-executor"), sizes.getMessage());
    ConfigException.BadValue spins = assertThrows(ConfigException.BadValue.class, () -> new BackoffExecutor(
        ConfigFactory.parseString("backoff-executor { parallelism-min = 1, parallelism-factor = 1.0, "
            + "parallelism-max = 1, spins = -1, yields = 0 }"), null));
    assertTrue(spins.getMessage().contains("spins"), spins.getMessage());
  }

  @Test
  @DisplayName("Pekko runs actors on it when a dispatcher names it")
  void pekkoDispatcherRunsOnIt() {
    ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(
        "test-backoff { type = Dispatcher, executor = \"dev.midlayer.dispatch.BackoffExecutor\", "
            + "backoff-executor { parallelism-min = 2, parallelism-factor = 1.0, parallelism-max = 2, "
            + "spins = 100, yields = 10 } }"));
    try {
      TestProbe<String> probe = kit.createTestProbe();
      ActorRef<String> echo = kit.spawn(Behaviors.<String>receiveMessage(m -> {
        probe.ref().tell(m + " on " + Thread.currentThread().getName());
        return Behaviors.same();
      }), "echo", DispatcherSelector.fromConfig("test-backoff"));
      for (int i = 0; i < 100; i++) {
        echo.tell("m" + i);
      }
      for (int i = 0; i < 100; i++) {
        String reply = probe.receiveMessage();
        assertTrue(reply.startsWith("m" + i + " on ") && reply.contains("test-backoff"), reply);
      }
    } finally {
      kit.shutdownTestKit();
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(1, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
