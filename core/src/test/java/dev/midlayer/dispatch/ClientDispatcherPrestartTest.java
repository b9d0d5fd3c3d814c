package dev.midlayer.dispatch;

import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientMessage;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The client dispatcher, where typed clients run and CQ actors tell them completions ({@code Cqe.tell}, in atomic
 * context), has every worker started once it exists and starts none on a tell: a thread-pool-executor started one
 * per submit until its core size was reached.
 */
class ClientDispatcherPrestartTest {
  private final ActorTestKit kit = ActorTestKit.create("ClientDispatcherPrestartTest");

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  private static long workers() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().contains("midlayer.client-dispatcher")).count();
  }

  @Test
  @DisplayName("after the first typed client: 16 workers; 20 more clients' actors start none")
  void everyWorkerStartsWithThePool() {
    Midlayer midlayer = Midlayer.get(kit.system());
    await(midlayer.registerClient("first", Behaviors.<ClientMessage>ignore()));
    assertEquals(16, workers(), "every worker of the client dispatcher, started with the pool");
    for (int i = 0; i < 20; i++) {
      await(midlayer.registerClient("c" + i, Behaviors.<ClientMessage>ignore()));
    }
    assertEquals(16, workers(), "no worker started by the clients' actors");
  }
}
