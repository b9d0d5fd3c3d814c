package dev.midlayer.device;

import static dev.midlayer.testsupport.EventFixtures.await;
import static dev.midlayer.testsupport.EventFixtures.awaitFailure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.testsupport.VerbsTestDriver;
import dev.midlayer.verbs.ProtectionDomain;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code Device.listResources} ({@code rdma res}): the objects on a device, oldest first, with their owners; a
 * destroyed object leaves the list; an unregistered device refuses with a typed error.
 */
class ListResourcesTest {
  private ActorTestKit kit;
  private Midlayer midlayer;

  @BeforeEach
  void setUp() {
    kit = ActorTestKit.create("ListResourcesTest");
    midlayer = Midlayer.get(kit.system());
  }

  @AfterEach
  void tearDown() {
    kit.shutdownTestKit();
  }

  /** A client that makes a PD and a CQ on every device in add, and frees them in remove. */
  private static final class Owner implements Client {
    private record Held(ProtectionDomain pd, CompletionQueue cq) {}

    @Override
    public String name() {
      return "owner";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      device.setClientData(self, new Held(await(device.allocPd()), await(device.allocCq(16, PollContext.DIRECT))));
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object data) {
      Held h = (Held) data;
      await(h.cq().destroy());
      await(h.pd().dealloc());
    }
  }

  @Test
  @DisplayName("what the application and a client made, oldest first, with each owner; a dealloc'd PD is gone; "
      + "after unregisterDevice the call fails with DeviceUnregisteredException")
  void listsWhatIsOnTheDevice() {
    Device d = await(midlayer.registerDevice("res%d", new VerbsTestDriver().ops()));
    ProtectionDomain appPd = await(d.allocPd());
    ClientId owner = await(midlayer.registerClient(new Owner()));

    List<DeviceResourceInfo> all = await(d.listResources());
    assertEquals(List.of("PD", "PD", "CQ"), all.stream().map(DeviceResourceInfo::kind).toList(), all.toString());
    assertEquals(null, all.get(0).owner(), "the application's PD has no owning client");
    assertEquals(owner, all.get(1).owner());
    assertEquals(owner, all.get(2).owner());
    assertEquals("CQ #", all.get(2).object().substring(0, 4), all.get(2).object());
    assertEquals(List.of(), all.stream().filter(i -> i.qp() != null).toList(), "only a QP carries QP details");

    await(appPd.dealloc());
    assertEquals(List.of(owner, owner), await(d.listResources()).stream().map(DeviceResourceInfo::owner).toList());

    await(midlayer.unregisterClient(owner));
    assertEquals(List.of(), await(d.listResources()));
    await(midlayer.unregisterDevice(d));
    assertInstanceOf(DeviceUnregisteredException.class, awaitFailure(d.listResources()));
  }

  @Test
  @DisplayName("kind() is the IB object's name in the description")
  void kinds() {
    assertEquals("QP", new DeviceResourceInfo("RC QP 5", null).kind());
    assertEquals("PD", new DeviceResourceInfo("PD #3", null).kind());
    assertEquals("CQ", new DeviceResourceInfo("CQ #2 (256 entries)", null).kind());
    assertEquals("MR", new DeviceResourceInfo("MR lkey 0x100", null).kind());
  }
}
