package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.monitor.Check;
import dev.midlayer.registry.LeftoverReclaimed;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ObjectDestroyedException;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The seed's C15 and the kernel's rule that nothing of a client runs after its remove: every object and
 * handler a client creates belongs to the (client, device) pair; when its remove returns, what it left is
 * reported (a warning naming client, device and object, and a {@link LeftoverReclaimed} event) and reclaimed
 * at once, and none of its callbacks runs afterwards, on the driver's devices. The clients leak on purpose: the
 * tests allow the leftovers and declare the monitor's LEFTOVER violation, and assert both. The check that the
 * client's event handler no longer runs needs link control (a PORT_ERR is the event).
 *
 * <p>Seed rules: C14 (a client uses a device only between its add and its remove), C15 (what it left is
 * reclaimed, nothing of it runs afterwards). IB spec: none (Linux {@code ib_client} and its
 * {@code remove} callback: the kernel's rule that a client's objects are gone when remove returns).
 *
 * <p>Test methods run on JUnit's thread; the clients' add and remove run on the midlayer's threads.
 */
public abstract class ClientOwnershipContract extends DriverContract {
  private Midlayer midlayer;
  private TestProbe<LeftoverReclaimed> leftovers;

  @BeforeEach
  void start() {
    // The clients below leave objects behind on purpose: the reports are what the tests check.
    f.allowClientLeftovers();
    // Using the reclaimed objects, and a device after the remove, is a C14 violation the tests provoke too.
    kit().allowLeftovers().expectViolations(Check.LEFTOVER, Check.OUTSIDE_ADD_REMOVE);
    midlayer = kit().midlayer();
    leftovers = kit().testKit().createTestProbe();
    kit().testKit().system().eventStream().tell(new EventStream.Subscribe<>(LeftoverReclaimed.class,
        leftovers.getRef()));
  }

  /** What a leaky client made on its device. */
  static final class Made {
    volatile ProtectionDomain pd;
    volatile CompletionQueue cq;
    volatile QueuePair qp;
    volatile MemoryRegion mr;
    volatile AddressHandle ah;
    final AtomicInteger handlerCalls = new AtomicInteger();
    final AtomicInteger eventCalls = new AtomicInteger();
  }

  /** Makes a PD, an MR, a CQ with a handler, an RC QP, an AH and an event handler on {@code d}, as the caller's client. */
  static void makeEverything(Device d, Made m) {
    m.pd = await0(d.allocPd());
    m.mr = await0(m.pd.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    m.cq = await0(d.createCq(16, cq -> m.handlerCalls.incrementAndGet(), null, null));
    m.qp = await0(m.pd.createQp(QpInitAttr.of(QpType.RC, m.cq, new QpCap(4, 4, 1, 1, 0))));
    m.ah = m.pd.createAh(AhAttr.ofLid(1, 1));
    await0(d.registerEventHandler("leaky-events", e -> m.eventCalls.incrementAndGet()));
  }

  private static <T> T await0(CompletionStage<T> s) {
    try {
      return await(s);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private void assertAllReclaimed(Device dev, ClientId client, Made m) throws Exception {
    List<LeftoverReclaimed> reported = leftovers.receiveSeveralMessages(6);
    for (LeftoverReclaimed r : reported) {
      assertEquals(client, r.client(), r.toString());
      assertEquals(dev.name(), r.device(), r.toString());
    }
    String all = reported.toString();
    for (String what : List.of("RC QP", "CQ #", "MR lkey", "PD #", "AH #", "event handler 'leaky-events'")) {
      assertTrue(all.contains(what), what + " reported in " + all);
    }
    // Nothing of it works or calls back any more.
    PostException post = assertThrows(PostException.class, () -> m.qp.postRecv(RecvWr.of(1)));
    assertTrue(post.getMessage().contains("destroyed"), post.getMessage());
    assertThrows(ObjectDestroyedException.class, () -> m.cq.poll());
    assertFalse(m.mr.isValid(), "the MR was deregistered");
    assertFalse(m.ah.isValid(), "the AH was destroyed");
    assertFalse(kit().monitor().violations(Check.LEFTOVER).isEmpty(), "the monitor reports the leftovers");
    assertFalse(kit().monitor().violations(Check.OUTSIDE_ADD_REMOVE).isEmpty(),
        "the monitor reports the posts and polls on reclaimed objects");
    if (driver().supportsLinkControl()) {
      // An event after the reclaim reaches another handler (a fence), never the client's.
      AtomicInteger other = new AtomicInteger();
      await(dev.registerEventHandler("observer", e -> other.incrementAndGet()));
      f.linkDown(dev, 1);
      ConformanceFixture.awaitTrue("the observer got the event", () -> other.get() == 1);
      assertEquals(0, m.eventCalls.get(), "the client's event handler no longer runs");
      f.linkUp(dev, 1);
    }
  }

  @Test
  @DisplayName("a plain client that leaves everything it made in add is reported and reclaimed when its remove "
      + "returns (unregisterClient), naming client, device and object, and none of it calls back afterwards")
  void plainClientLeftoversReclaimedAtRemove() throws Exception {
    Device dev = f.addDevice();
    Made m = new Made();
    AtomicReference<ClientId> id = new AtomicReference<>();
    ClientId client = LoggingTestKit.warn("client 'leaky'").withMessageRegex("^(?!contract violation)") // not the monitor's
        .withOccurrences(6).expect(kit().testKit().system(),
        () -> {
          ClientId c = await0(midlayer.registerClient(new Client() {
            @Override
            public String name() {
              return "leaky";
            }

            @Override
            public boolean add(Device device, ClientId self) {
              makeEverything(device, m);
              return true;
            }

            @Override
            public void remove(Device device, ClientId self, Object data) {
              // forgets to clean up
            }
          }));
          id.set(c);
          await0(midlayer.unregisterClient(c));
          return c;
        });
    assertAllReclaimed(dev, client, m);
    assertEquals(1, dev.attributes().physPortCount()); // the device itself is untouched
  }

  @Test
  @DisplayName("a typed client's leftovers are reclaimed when its remove is acknowledged (unregisterDevice "
      + "reclaims them per client before the device goes)")
  void typedClientLeftoversReclaimedAtRemove() throws Exception {
    Device dev = f.addDevice();
    Made m = new Made();
    ClientId client = await(midlayer.registerClient("typed-leaky", Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, msg -> {
          makeEverything(msg.device(), m);
          msg.replyTo().tell(ClientMessage.AddReply.added());
          return Behaviors.same();
        })
        .onMessage(ClientMessage.DeviceRemoved.class, msg -> {
          msg.replyTo().tell(org.apache.pekko.Done.getInstance());
          return Behaviors.same();
        })
        .build()));
    await(midlayer.unregisterClient(client));
    assertAllReclaimed(dev, client, m);
  }

  @Test
  @DisplayName("objects made on a client's behalf through ClientContext.runAs belong to it; a client whose remove "
      + "returned may not make objects on the device any more")
  void clientContextOwnsAndRefusesAfterRemove() throws Exception {
    Device dev = f.addDevice();
    AtomicReference<ClientId> self = new AtomicReference<>();
    ClientId client = await(midlayer.registerClient(new Client() {
      @Override
      public String name() {
        return "helper-thread";
      }

      @Override
      public boolean add(Device device, ClientId id) {
        self.set(id);
        return true;
      }

      @Override
      public void remove(Device device, ClientId id, Object data) { }
    }));
    // Made from the test thread, for the client: it owns the PD.
    ProtectionDomain pd = ClientContext.callAs(client, () -> await0(dev.allocPd()));
    await(midlayer.unregisterClient(client));
    LeftoverReclaimed r = leftovers.receiveMessage();
    assertEquals(client, r.client());
    assertTrue(r.object().startsWith("PD #" + pd.handle()), r.toString());
    IllegalStateException late = assertThrows(IllegalStateException.class,
        () -> ClientContext.runAs(client, () -> dev.allocPd()));
    assertTrue(late.getMessage().contains("is not added to " + dev.name()), late.getMessage());
    assertFalse(kit().monitor().violations(Check.OUTSIDE_ADD_REMOVE).isEmpty(),
        "the monitor reports the call after the remove");
  }
}
