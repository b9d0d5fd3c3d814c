package dev.midlayer.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.monitor.Check;
import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.registry.LeftoverReclaimed;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A midlayer ready for a test: a Pekko {@link ActorTestKit} (its own actor system), the midlayer with
 * {@code context-check = strict}, and a loopback fabric to plug devices into. It adds blocking
 * shortcuts for test code (never use them from midlayer callbacks), and records every object the midlayer
 * reclaims because a client left it behind ({@link #leftovers()}): {@link #shutdown()} fails the test on
 * any, so a ULP that does not clean up in its remove fails its own tests.
 *
 * <p>Create one per test class or per test and {@link #shutdown()} it, or let
 * {@link MidlayerExtension} do both. Thread safety: as the underlying objects.
 *
 * <p>Threading: the factories and the blocking shortcuts ({@link #addDevice}, {@link #removeDevice},
 * {@link #registerClient}, {@link #unregisterClient}, {@link #await}, {@link #leftovers()},
 * {@link #shutdown()}) <b>may sleep</b>: call them from the test thread, never from an actor's turn or a
 * midlayer callback. The accessors and the {@code expect}/{@code allow} settings never block and may be
 * called from any thread.
 */
public final class MidlayerTestKit {
  /** How long the blocking shortcuts wait before failing the test: {@link Await#DEFAULT_TIMEOUT}. */
  public static final Duration DEFAULT_TIMEOUT = Await.DEFAULT_TIMEOUT;

  private static final Config TEST_CONFIG = ConfigFactory.parseString(
      "midlayer.context-check = strict\n"
          + "midlayer.client-ack-warning-interval = 2s\n");

  private final ActorTestKit testKit;
  private final Midlayer midlayer;
  private final LoopbackFabric fabric;
  private final ConcurrentLinkedQueue<LeftoverReclaimed> leftovers = new ConcurrentLinkedQueue<>();
  private final ActorRef<Object> collector;
  private volatile boolean leftoversAllowed;
  private final ContractMonitor monitor;
  private final java.util.Set<Check> expected = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** Marks the end of the leftover reports published before it (the event stream keeps their order). */
  private record Flush(CountDownLatch seen) {}

  private MidlayerTestKit(ActorTestKit testKit) {
    this.testKit = testKit;
    this.midlayer = Midlayer.get(testKit.system());
    this.fabric = new LoopbackFabric(midlayer);
    this.monitor = ContractMonitor.attach(midlayer);
    this.collector = testKit.spawn(Behaviors.receiveMessage(m -> {
      if (m instanceof LeftoverReclaimed l) {
        leftovers.add(l);
      } else if (m instanceof Flush f) {
        f.seen().countDown();
      }
      return Behaviors.same();
    }), "midlayer-leftovers");
    testKit.system().eventStream().tell(new EventStream.Subscribe<>(LeftoverReclaimed.class, collector.narrow()));
    testKit.system().eventStream().tell(new EventStream.Subscribe<>(Flush.class, collector.narrow()));
  }

  /**
   * A new kit with the test defaults (strict context checks). May sleep (starts an actor system); from the test
   * thread.
   */
  public static MidlayerTestKit create() {
    return create(ConfigFactory.empty());
  }

  /** Numbers the kits' actor systems: midlayer-test-1, -2, ... */
  private static final AtomicInteger KITS = new AtomicInteger();

  /**
   * A new kit whose config is {@code overrides} on top of the test defaults and the application config. Its actor
   * system is named {@code midlayer-test-N}, a new N for every kit of the JVM, so that the log lines, actor paths
   * and monitor reports of two kits alive at once tell them apart. May sleep (starts an actor system); from the
   * test thread.
   */
  public static MidlayerTestKit create(Config overrides) {
    Config config = overrides.withFallback(TEST_CONFIG).withFallback(ConfigFactory.load());
    return new MidlayerTestKit(ActorTestKit.create("midlayer-test-" + KITS.incrementAndGet(), config));
  }

  /**
   * A new kit on Pekko's manually driven clock ({@link ManualTime}): timers (RC ACK timeouts, RNR waits, the
   * midlayer's warnings) fire only when the test advances time with {@link #manualTime()}. May sleep (starts an
   * actor system); from the test thread.
   */
  public static MidlayerTestKit createWithManualTime(Config overrides) {
    return create(overrides.withFallback(ManualTime.config()));
  }

  /**
   * The manual clock of a kit made by {@link #createWithManualTime}: {@code manualTime().timePasses(d)} fires
   * every timer due within {@code d}. Never blocks itself; call it (and {@code timePasses}) from the test thread.
   */
  public ManualTime manualTime() {
    return ManualTime.get(testKit.system());
  }

  /** The Pekko test kit (probes, spawning, the actor system). Never blocks; any thread. */
  public ActorTestKit testKit() {
    return testKit;
  }

  /** The midlayer under test. Never blocks; any thread. */
  public Midlayer midlayer() {
    return midlayer;
  }

  /**
   * The contract monitor attached to the midlayer from the start: {@link #shutdown()} fails the test on any
   * violation it saw (but those of {@link #expectViolations}). Never blocks; any thread.
   */
  public ContractMonitor monitor() {
    return monitor;
  }

  /**
   * For a test that breaks a rule on purpose (a hostile consumer, a broken driver): violations of {@code checks}
   * do not fail {@link #shutdown()}. Assert them yourself with {@code monitor().violations(check)}.
   * Never blocks; any thread.
   */
  public MidlayerTestKit expectViolations(Check... checks) {
    expected.addAll(java.util.Arrays.asList(checks));
    return this;
  }

  /** The loopback fabric attached to the midlayer. Never blocks; any thread. */
  public LoopbackFabric fabric() {
    return fabric;
  }

  /**
   * Adds and registers a loopback device, waiting until every client has been added. Blocks until then (at most
   * {@link #DEFAULT_TIMEOUT}); from the test thread, not from an actor's turn or a midlayer callback.
   */
  public LoopbackDevice addDevice(String name, int ports) {
    return await(fabric.addDevice(name, ports));
  }

  /**
   * Unregisters a loopback device, waiting until every client's remove finished. Blocks until then (at most
   * {@link #DEFAULT_TIMEOUT}); from the test thread, not from an actor's turn or a midlayer callback.
   */
  public void removeDevice(LoopbackDevice device) {
    await(fabric.removeDevice(device));
  }

  /**
   * Registers a client, waiting until it has been added to every device. Blocks until then (at most
   * {@link #DEFAULT_TIMEOUT}); from the test thread, not from an actor's turn or a midlayer callback.
   */
  public ClientId registerClient(Client client) {
    return await(midlayer.registerClient(client));
  }

  /**
   * Unregisters a client, waiting until its last remove finished. Blocks until then (at most
   * {@link #DEFAULT_TIMEOUT}); from the test thread, not from an actor's turn or a midlayer callback.
   */
  public void unregisterClient(ClientId client) {
    await(midlayer.unregisterClient(client));
  }

  /**
   * Waits for {@code stage} up to {@link #DEFAULT_TIMEOUT}; its failure is rethrown unwrapped. Blocks the calling
   * thread until the stage completes or the timeout passes: from the test thread, never from an actor's turn or
   * a midlayer callback (the stage may need that very thread to complete).
   */
  public static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(DEFAULT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new AssertionError("stage failed", e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("stage did not complete within " + DEFAULT_TIMEOUT, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting", e);
    }
  }

  /**
   * What the midlayer reclaimed so far because a client left it behind when its remove returned (or no
   * client made it and its device was unregistered): each is a ULP bug. Thread-safe, but blocks until the event
   * stream delivered the reports published before the call (at most {@link #DEFAULT_TIMEOUT}): not from an
   * actor's turn or a midlayer callback.
   */
  public List<LeftoverReclaimed> leftovers() {
    flushLeftovers();
    return List.copyOf(leftovers);
  }

  /**
   * Fails, listing them, if the midlayer reclaimed anything left behind. Blocks like {@link #leftovers()}; from the
   * test thread.
   */
  public void assertNoLeftovers() {
    failOnLeftovers(leftovers());
  }

  private static void failOnLeftovers(List<LeftoverReclaimed> found) {
    if (!found.isEmpty()) {
      throw new AssertionError("the midlayer reclaimed " + found.size() + " object(s) left behind (a client must "
          + "destroy what it made before its remove returns):\n  "
          + found.stream().map(LeftoverReclaimed::toString).collect(Collectors.joining("\n  ")));
    }
  }

  /**
   * For a test that leaves objects behind on purpose: {@link #shutdown()} does not fail on them. Never blocks; any
   * thread.
   */
  public MidlayerTestKit allowLeftovers() {
    leftoversAllowed = true;
    return this;
  }

  private void flushLeftovers() {
    CountDownLatch seen = new CountDownLatch(1);
    testKit.system().eventStream().tell(new EventStream.Publish<>(new Flush(seen)));
    try {
      if (!seen.await(DEFAULT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("the event stream did not deliver within " + DEFAULT_TIMEOUT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Unregisters every device (so every client gets its remove) and every client, shuts the actor system
   * down and waits for it; then fails if the midlayer had to reclaim anything left behind (unless
   * {@link #allowLeftovers()}), or if the contract monitor saw a violation (unless expected). Blocks until the
   * actor system terminated; from the test thread only, never from an actor's turn or a midlayer callback.
   */
  public void shutdown() {
    List<LeftoverReclaimed> found;
    try {
      for (LoopbackDevice d : fabric.devices()) {
        await(fabric.removeDevice(d));
      }
      for (dev.midlayer.device.Device d : midlayer.devices()) {
        await(midlayer.unregisterDevice(d));
      }
      for (ClientId c : midlayer.clients()) {
        await(midlayer.unregisterClient(c));
      }
      found = leftovers();
    } finally {
      testKit.shutdownTestKit();
    }
    if (!leftoversAllowed) {
      // the system is gone: judge what was collected before it stopped
      failOnLeftovers(found);
    }
    failOnViolations();
  }

  /** The monitor's verdict once every driver stopped: fails on each violation not expected. */
  private void failOnViolations() {
    java.util.Set<Check> allowed = java.util.EnumSet.noneOf(Check.class);
    allowed.addAll(expected);
    if (leftoversAllowed) {
      allowed.add(Check.LEFTOVER);
    }
    monitor.assertNone(monitor.toString(), allowed, false);
  }
}
