package dev.midlayer.testsupport;

import dev.midlayer.cq.CompletionQueue;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * Deterministic fences for the negative checks of the CQ tests ("the handler never runs again", "no second
 * CQ_ERR"), in place of timed quiet periods: wait for the event after which the unwanted call can no longer
 * happen, then look at what was recorded.
 */
public final class Fences {
  private Fences() {}

  /**
   * Waits until the CQ's actor has stopped (after destroy or unregisterDevice). That actor is the only caller
   * of the CQ's completion handler, event handler and done callbacks, and it takes its mailbox in order: once it
   * has stopped, every call the test provoked before has been made and none can follow, so what the callbacks
   * recorded is final. Fails if it does not stop within {@link CqFixtures#TIMEOUT}.
   */
  public static void awaitCqActorStopped(ActorTestKit kit, CompletionQueue cq) {
    kit.createTestProbe().expectTerminated(Internal.impl(cq).fence(), CqFixtures.TIMEOUT);
  }
}
