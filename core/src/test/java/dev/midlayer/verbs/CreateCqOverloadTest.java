package dev.midlayer.verbs;

import static dev.midlayer.testsupport.CqFixtures.success;
import static dev.midlayer.testsupport.EventFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.testsupport.Internal;
import dev.midlayer.testsupport.VerbsTestDriver;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The short forms of {@link Device#createCq}: {@code createCq(cqe, handler)} and {@code createCq(cqe)} make the
 * CQ the four-argument form makes with nulls, and check their arguments as it does.
 */
class CreateCqOverloadTest {
  private ActorTestKit kit;
  private Device device;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("CreateCqOverloadTest");
    device = await(Midlayer.get(kit.system()).registerDevice("cqo%d", new VerbsTestDriver().maxCqe(1024).ops()));
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  @Test
  @DisplayName("createCq(cqe, handler): the handler runs once per arming, on a CQ with no context")
  void createCqWithHandlerRunsItPerArming() {
    TestProbe<Integer> calls = kit.createTestProbe();
    CompletionQueue cq = await(device.createCq(16, c -> calls.getRef().tell(c.peek())));
    assertNull(cq.context());
    assertTrue(cq.capacity() >= 16, "capacity " + cq.capacity());
    assertFalse(cq.requestNotify(CqNotify.NEXT_COMP, false));
    assertTrue(Internal.push(cq, success(1), false));
    assertEquals(1, calls.expectMessageClass(Integer.class));
    assertEquals(1, cq.poll().wrId());
    assertTrue(Internal.push(cq, success(2), false));
    cq.requestNotify(CqNotify.NEXT_COMP, false);
    assertTrue(Internal.push(cq, success(3), false));
    assertEquals(2, calls.expectMessageClass(Integer.class), "one call for the second arming, seeing 2 and 3");
  }

  @Test
  @DisplayName("createCq(cqe): a CQ that is only polled, with no context")
  void createCqWithDepthOnlyIsPolled() {
    CompletionQueue cq = await(device.createCq(8));
    assertNull(cq.context());
    assertTrue(Internal.push(cq, success(7), false));
    assertEquals(7, cq.poll().wrId());
    assertNull(cq.poll());
  }

  @Test
  @DisplayName("createCq(cqe, handler) and createCq(cqe): a cqe out of 1..maxCqe, or a null handler, is an "
      + "InvalidArgumentException naming it")
  void shortFormsCheckTheirArguments() {
    assertEquals("cqe", assertThrows(InvalidArgumentException.class, () -> device.createCq(0, c -> { })).field());
    assertEquals("cqe", assertThrows(InvalidArgumentException.class, () -> device.createCq(1025, c -> { })).field());
    assertEquals("cqe", assertThrows(InvalidArgumentException.class, () -> device.createCq(0)).field());
    assertEquals("handler", assertThrows(InvalidArgumentException.class, () -> device.createCq(8, null)).field());
  }
}
