package dev.midlayer.cq;

import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.monitor.Check;
import dev.midlayer.testsupport.ExpectViolations;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The callback watchdog: a consumer callback that runs too long is warned about, naming it, repeatedly. */
class CallbackWatchdogTest {
  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void start() {
    kit = ActorTestKit.create("watchdog", ConfigFactory.parseString("midlayer.callback-warning-after = 100ms")
        .withFallback(ConfigFactory.load()));
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void stop() {
    kit.shutdownTestKit();
  }

  @Test
  @DisplayName("a completion handler that runs longer than callback-warning-after is warned about, naming the "
      + "handler, its CQ and its device, again while it keeps running; a quick one is not")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void longCallbackIsWarnedAboutRepeatedly() throws Exception {
    Device d = await(midlayer.registerDevice("wd%d", new VerbsTestDriver().ops()));
    CountDownLatch release = new CountDownLatch(1);
    CompletionQueue slow = await(d.createCq(8, cq -> {
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, null, null));
    String handler = "completion handler of CQ #" + slow.number() + " on " + d.name();
    CountDownLatch quickRan = new CountDownLatch(1);
    CompletionQueue quick = await(d.createCq(8, cq -> quickRan.countDown(), null, null));
    // A quick handler is never warned about. The fence is the slow handler below: it starts after the quick one
    // returned and is warned about twice, so the watchdog has since looked at every watch, the quick CQ's too,
    // at a time when the quick call would have been running for longer than callback-warning-after.
    // Each warning is a JFR event too (dev.midlayer.SlowCallback), naming the handler.
    jdk.jfr.Recording recording = new jdk.jfr.Recording();
    recording.enable("dev.midlayer.SlowCallback");
    recording.start();
    LoggingTestKit.warn("CQ #" + quick.number() + " on " + d.name() + " has been running").withOccurrences(0)
        .expect(kit.system(), () -> {
          quick.requestNotify(CqNotify.NEXT_COMP, false);
          assertTrue(Internal.push(quick, success(2), false));
          try {
            assertTrue(quickRan.await(5, TimeUnit.SECONDS), "the quick handler ran");
            LoggingTestKit.warn(handler + " has been running for").withOccurrences(2).expect(kit.system(), () -> {
              slow.requestNotify(CqNotify.NEXT_COMP, false);
              assertTrue(Internal.push(slow, success(1), false));
              return null;
            });
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          } finally {
            release.countDown();
          }
          return null;
        });
    recording.stop();
    java.nio.file.Path file = java.nio.file.Files.createTempFile("watchdog", ".jfr");
    try {
      recording.dump(file);
      java.util.List<String> slowOnes = jdk.jfr.consumer.RecordingFile.readAllEvents(file).stream()
          .map(e -> e.getString("callback")).toList();
      assertTrue(slowOnes.size() >= 2 && slowOnes.stream().allMatch(handler::equals), slowOnes::toString);
    } finally {
      recording.close();
      java.nio.file.Files.deleteIfExists(file);
    }
  }
}
