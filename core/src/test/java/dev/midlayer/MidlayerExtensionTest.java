package dev.midlayer;

import static dev.midlayer.testsupport.EventFixtures.TIMEOUT;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.context.ContextCheckMode;
import dev.midlayer.device.Device;
import dev.midlayer.testsupport.TestDriver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The midlayer as a Pekko extension, and its settings from {@code midlayer { }} in the config. */
class MidlayerExtensionTest {
  private static final String LIBRARY_EXTENSION =
      "pekko.actor.typed.library-extensions += \"dev.midlayer.MidlayerId\"";

  private final List<ActorTestKit> kits = new ArrayList<>();

  private ActorTestKit kit() {
    ActorTestKit k = ActorTestKit.create("MidlayerExtensionTest");
    kits.add(k);
    return k;
  }

  private ActorTestKit kit(String config) {
    ActorTestKit k = ActorTestKit.create("MidlayerExtensionTest",
        ConfigFactory.parseString(config).withFallback(ConfigFactory.load()).resolve());
    kits.add(k);
    return k;
  }

  @AfterEach
  void shutdown() {
    for (ActorTestKit k : kits) {
      k.shutdownTestKit();
    }
    kits.clear();
  }

  private static Config withMidlayer(String config) {
    return ConfigFactory.parseString(config).withFallback(ConfigFactory.load()).resolve();
  }

  /** Resolves {@code /system/midlayer-registry} through the classic API: the registry actor exists. */
  private static ActorRef registryActor(ActorTestKit k) {
    return await(Adapter.toClassic(k.system()).actorSelection("/system/midlayer-registry").resolveOne(TIMEOUT));
  }

  @Test
  @DisplayName("Midlayer.get(system) returns the same instance every time")
  void getReturnsTheSameInstance() {
    ActorTestKit k = kit();
    Midlayer first = Midlayer.get(k.system());
    assertSame(first, Midlayer.get(k.system()));
    assertSame(first, k.system().extension(MidlayerId.getInstance()));
    assertSame(k.system(), first.system());
  }

  @Test
  @DisplayName("Midlayer.get from 8 threads at once creates one instance")
  void concurrentGetCreatesOneInstance() throws Exception {
    ActorTestKit k = kit();
    assertFalse(k.system().hasExtension(MidlayerId.getInstance()));
    CountDownLatch start = new CountDownLatch(1);
    List<Midlayer> got = Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Thread t = new Thread(() -> {
        try {
          start.await();
          got.add(Midlayer.get(k.system()));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      threads.add(t);
      t.start();
    }
    start.countDown();
    for (Thread t : threads) {
      t.join(TIMEOUT.toMillis());
    }
    assertEquals(8, got.size());
    for (Midlayer m : got) {
      assertSame(got.get(0), m);
    }
    assertNotNull(registryActor(k));
  }

  @Test
  @DisplayName("each actor system has its own midlayer")
  void eachActorSystemHasItsOwnMidlayer() {
    Midlayer a = Midlayer.get(kit().system());
    Midlayer b = Midlayer.get(kit().system());
    assertNotSame(a, b);
    Device d = await(a.registerDevice("only-in-a", new TestDriver().ops()));
    assertEquals(List.of(d), a.devices());
    assertTrue(b.devices().isEmpty());
  }

  @Test
  @DisplayName("MidlayerId.getInstance() is a singleton")
  void midlayerIdIsASingleton() {
    assertSame(MidlayerId.getInstance(), MidlayerId.getInstance());
    assertNotNull(MidlayerId.getInstance());
  }

  @Test
  @DisplayName("without library-extensions the midlayer is created on first use only")
  void withoutLibraryExtensionsTheMidlayerIsCreatedOnFirstUse() {
    ActorTestKit k = kit();
    assertFalse(k.system().hasExtension(MidlayerId.getInstance()));
    Midlayer.get(k.system());
    assertTrue(k.system().hasExtension(MidlayerId.getInstance()));
    assertNotNull(registryActor(k));
  }

  @Test
  @DisplayName("library-extensions += dev.midlayer.MidlayerId creates the midlayer and its registry at startup")
  void libraryExtensionsCreatesTheMidlayerAtStartup() {
    ActorTestKit k = kit(LIBRARY_EXTENSION);
    assertTrue(k.system().settings().config().getStringList("pekko.actor.typed.library-extensions")
        .contains("dev.midlayer.MidlayerId"));
    // Loaded while the system started: present before anyone asked for it.
    assertTrue(k.system().hasExtension(MidlayerId.getInstance()), "midlayer not created at startup");
    assertNotNull(registryActor(k));
    Midlayer m = Midlayer.get(k.system());
    assertSame(m, Midlayer.get(k.system()));
    Device d = await(m.registerDevice("boot%d", new TestDriver().ops()));
    assertEquals("boot0", d.name());
  }

  @Test
  @DisplayName("settings come from reference.conf: context-check strict, 10 s ack warning, 30 s linger, dispatchers")
  void settingsDefaultToReferenceConf() {
    MidlayerSettings expected = new MidlayerSettings(ContextCheckMode.STRICT, Duration.ofSeconds(10),
        Duration.ofSeconds(30), "midlayer.control-dispatcher", "midlayer.client-dispatcher",
        "midlayer.data-path-dispatcher", "midlayer.callback-dispatcher", 256, Duration.ofSeconds(1), "service-stop", Duration.ofSeconds(5));
    assertEquals(expected, MidlayerSettings.fromConfig(ConfigFactory.load()));
    assertEquals(expected, MidlayerSettings.fromConfig(ConfigFactory.defaultReference()));
    Midlayer m = Midlayer.get(kit().system());
    assertEquals(expected, m.settings());
    assertEquals(ContextCheckMode.STRICT, m.contextChecker().mode());
  }

  @Test
  @DisplayName("settings are overridable in the actor system's config")
  void settingsAreOverridable() {
    ActorTestKit k = kit("""
        midlayer.context-check = WARN
        midlayer.client-ack-warning-interval = 250ms
        midlayer.unregistered-device-linger = 2 minutes
        midlayer.dispatchers.control = "my-control"
        my-control = ${midlayer.control-dispatcher}
        """);
    Midlayer m = Midlayer.get(k.system());
    assertEquals(new MidlayerSettings(ContextCheckMode.WARN, Duration.ofMillis(250), Duration.ofMinutes(2),
        "my-control", "midlayer.client-dispatcher", "midlayer.data-path-dispatcher", "midlayer.callback-dispatcher",
        256, Duration.ofSeconds(1), "service-stop", Duration.ofSeconds(5)), m.settings());
    assertEquals(ContextCheckMode.WARN, m.contextChecker().mode());
    // The overridden dispatcher is really used: registering a device works on it.
    Device d = await(m.registerDevice("ovr%d", new TestDriver().ops()));
    assertEquals(List.of(d), m.devices());
  }

  @Test
  @DisplayName("a bad midlayer.context-check value fails with a message naming the key")
  void badContextCheckValueFailsNamingTheKey() {
    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
        () -> MidlayerSettings.fromConfig(withMidlayer("midlayer.context-check = sometimes")));
    assertTrue(ex.getMessage().contains("midlayer.context-check"), ex.getMessage());
    assertTrue(ex.getMessage().contains("sometimes"), ex.getMessage());

    ActorTestKit k = kit("midlayer.context-check = sometimes");
    Throwable thrown = assertThrows(Throwable.class, () -> Midlayer.get(k.system()));
    assertTrue(messageChainContains(thrown, "midlayer.context-check"), "no message names the key: " + thrown);
    // Pekko keeps the failure: asking again fails the same way instead of half-creating a midlayer.
    Throwable again = assertThrows(Throwable.class, () -> Midlayer.get(k.system()));
    assertTrue(messageChainContains(again, "midlayer.context-check"), "no message names the key: " + again);
  }

  @Test
  @DisplayName("a bad context-check value with library-extensions fails the actor system start naming the key")
  void badContextCheckValueFailsStartupWithLibraryExtension() {
    Config bad = withMidlayer(LIBRARY_EXTENSION + "\nmidlayer.context-check = loud");
    Throwable thrown = assertThrows(Throwable.class, () -> kits.add(ActorTestKit.create("BadStart", bad)));
    assertTrue(messageChainContains(thrown, "midlayer.context-check"), "no message names the key: " + thrown);
  }

  @Test
  @DisplayName("non-positive durations are rejected with a message naming the key")
  void nonPositiveDurationsAreRejectedNamingTheKey() {
    IllegalArgumentException a = assertThrows(IllegalArgumentException.class,
        () -> MidlayerSettings.fromConfig(withMidlayer("midlayer.client-ack-warning-interval = 0s")));
    assertTrue(a.getMessage().contains("midlayer.client-ack-warning-interval"), a.getMessage());
    IllegalArgumentException b = assertThrows(IllegalArgumentException.class,
        () -> MidlayerSettings.fromConfig(withMidlayer("midlayer.unregistered-device-linger = -5s")));
    assertTrue(b.getMessage().contains("midlayer.unregistered-device-linger"), b.getMessage());
  }

  private static boolean messageChainContains(Throwable t, String text) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getMessage() != null && c.getMessage().contains(text)) {
        return true;
      }
    }
    return false;
  }
}
