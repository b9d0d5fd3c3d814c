package dev.midlayer.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * A midlayer ready for a test: a Pekko {@link ActorTestKit} (its own actor system), the midlayer with
 * {@code context-check = strict}, and a loopback fabric to plug devices into. It adds blocking
 * shortcuts for test code (never use them from midlayer callbacks).
 *
 * <p>Create one per test class or per test and {@link #shutdown()} it, or let
 * {@link MidlayerExtension} do both. Thread safety: as the underlying objects.
 */
public final class MidlayerTestKit {
  /** How long the blocking shortcuts wait before failing the test. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private static final Config TEST_CONFIG = ConfigFactory.parseString(
      "midlayer.context-check = strict\n"
          + "midlayer.client-ack-warning-interval = 2s\n");

  private final ActorTestKit testKit;
  private final Midlayer midlayer;
  private final LoopbackFabric fabric;

  private MidlayerTestKit(ActorTestKit testKit) {
    this.testKit = testKit;
    this.midlayer = Midlayer.get(testKit.system());
    this.fabric = new LoopbackFabric(midlayer);
  }

  /** A new kit with the test defaults (strict context checks). */
  public static MidlayerTestKit create() {
    return create(ConfigFactory.empty());
  }

  /** A new kit whose config is {@code overrides} on top of the test defaults and the application config. */
  public static MidlayerTestKit create(Config overrides) {
    Config config = overrides.withFallback(TEST_CONFIG).withFallback(ConfigFactory.load());
    return new MidlayerTestKit(ActorTestKit.create("midlayer-test", config));
  }

  /** The Pekko test kit (probes, spawning, the actor system). */
  public ActorTestKit testKit() {
    return testKit;
  }

  /** The midlayer under test. */
  public Midlayer midlayer() {
    return midlayer;
  }

  /** The loopback fabric attached to the midlayer. */
  public LoopbackFabric fabric() {
    return fabric;
  }

  /** Adds and registers a loopback device, waiting until every client has been added. */
  public LoopbackDevice addDevice(String name, int ports) {
    return await(fabric.addDevice(name, ports));
  }

  /** Unregisters a loopback device, waiting until every client's remove finished. */
  public void removeDevice(LoopbackDevice device) {
    await(fabric.removeDevice(device));
  }

  /** Registers a client, waiting until it has been added to every device. */
  public ClientId registerClient(Client client) {
    return await(midlayer.registerClient(client));
  }

  /** Unregisters a client, waiting until its last remove finished. */
  public void unregisterClient(ClientId client) {
    await(midlayer.unregisterClient(client));
  }

  /** Waits for {@code stage} up to {@link #DEFAULT_TIMEOUT}; its failure is rethrown unwrapped. */
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

  /** Shuts the actor system down and waits for it. */
  public void shutdown() {
    testKit.shutdownTestKit();
  }
}
