package dev.midlayer.testkit;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.monitor.Check;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Each log assertion passes on the midlayer's real line and fails without it. */
class MidlayerLogsTest {
  private MidlayerTestKit kit;
  private ActorSystem<?> system;

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.client-ack-warning-interval = 200ms\n"
        + "midlayer.callback-warning-after = 200ms\n"
        + "pekko.actor.testkit.typed.filter-leeway = 1s"));
    system = kit.testKit().system();
  }

  @AfterEach
  void stop() {
    kit.shutdown();
  }

  @Test
  @DisplayName("expectLeftover sees each object a leaking client left, and fails for a client that cleans up")
  void leftover() {
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    ClientId leaker = kit.registerClient(HostileClients.leaking("leaker"));
    MidlayerLogs.expectLeftover(system, leaker, lo.name(), "PD", () ->
        MidlayerLogs.expectLeftover(system, leaker, lo.name(), "CQ", () -> {
          kit.unregisterClient(leaker);
          return null;
        }));
    kit.allowLeftovers();
    ClientId clean = kit.registerClient(new RecordingClient("clean", new CallbackLog()));
    assertThrows(AssertionError.class, () -> MidlayerLogs.expectLeftover(system, clean, lo.name(), "PD", () -> {
      kit.unregisterClient(clean);
      return null;
    }));
  }

  @Test
  @DisplayName("expectAckWarning sees the warning about a client stuck in remove, and fails for a quick one")
  void ackWarning() {
    HostileClients.Stuck stuck = HostileClients.stuckInRemove("stuck");
    ClientId id = kit.registerClient(stuck.client());
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    var unregister = MidlayerLogs.expectAckWarning(system, id, lo.name(), () -> {
      var u = kit.fabric().removeDevice(lo);
      stuck.awaitInRemove();
      return u;
    });
    stuck.release();
    Await.result(unregister);
    LoopbackDevice quick = kit.addDevice("lo%d", 1);
    assertThrows(AssertionError.class, () -> MidlayerLogs.expectAckWarning(system, id, quick.name(), () -> {
      kit.removeDevice(quick);
      return null;
    }));
    kit.unregisterClient(id);
  }

  @Test
  @DisplayName("expectSlowCallback and expectCallbackThrew see the watchdog and the guard, and fail without them")
  void slowAndThrowingCallbacks() throws Exception {
    kit.expectViolations(Check.BLOCKING); // the slow handler waits on a latch in atomic context, on purpose
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch ran = new CountDownLatch(1);
    EventHandlerRegistration slow = await(lo.device().registerEventHandler("slow", e -> {
      try {
        release.await(1, TimeUnit.MINUTES); // longer than callback-warning-after, until the test saw the warning
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
      ran.countDown();
    }));
    MidlayerLogs.expectSlowCallback(system, "event handler 'slow' on " + lo.name(), () -> {
      lo.linkDown(1);
      return null;
    });
    release.countDown();
    ran.await(10, TimeUnit.SECONDS);
    await(slow.unregister());
    assertTrue(kit.monitor().violations(Check.BLOCKING).stream()
        .anyMatch(v -> v.message().contains("event handler 'slow'")), () -> kit.monitor().report());

    EventHandlerRegistration thrower = await(lo.device().registerEventHandler("thrower", e -> {
      throw new IllegalStateException("on purpose");
    }));
    MidlayerLogs.expectCallbackThrew(system, "event handler 'thrower' on " + lo.name(), () -> {
      lo.linkUp(1);
      return null;
    });
    await(thrower.unregister());
    EventHandlerRegistration quiet = await(lo.device().registerEventHandler("quiet", e -> { }));
    assertThrows(AssertionError.class, () -> MidlayerLogs.expectCallbackThrew(system, "'quiet'", () -> {
      lo.linkDown(1);
      return null;
    }));
    assertThrows(AssertionError.class, () -> MidlayerLogs.expectSlowCallback(system, "'quiet'", () -> {
      lo.linkUp(1);
      return null;
    }));
    await(quiet.unregister());
    kit.removeDevice(lo);
  }
}
