package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.registry.LeftoverReclaimed;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The testkit turns a leftover the midlayer reclaims (a client that did not clean up) into a test failure. */
class MidlayerTestKitLeftoversTest {

  /** A client that allocates a PD in add and forgets it in remove. */
  private static Client leaky() {
    return new Client() {
      @Override
      public String name() {
        return "leaky";
      }

      @Override
      public boolean add(Device device, ClientId self) {
        MidlayerTestKit.await(device.allocPd());
        return true;
      }

      @Override
      public void remove(Device device, ClientId self, Object clientData) { }
    };
  }

  @Test
  @DisplayName("shutdown fails, naming client, device and object, when a client left something behind")
  void shutdownFailsOnLeftovers() {
    MidlayerTestKit kit = MidlayerTestKit.create();
    kit.addDevice("lo%d", 1);
    kit.registerClient(leaky());
    AssertionError e = assertThrows(AssertionError.class, kit::shutdown);
    assertTrue(e.getMessage().contains("client 'leaky'") && e.getMessage().contains("lo0")
        && e.getMessage().contains("PD #1"), e.getMessage());
  }

  @Test
  @DisplayName("leftovers() lists what was reclaimed; allowLeftovers() lets a test that leaks on purpose pass")
  void leftoversAreListedAndCanBeAllowed() {
    MidlayerTestKit kit = MidlayerTestKit.create().allowLeftovers();
    kit.addDevice("lo%d", 1);
    ClientId c = kit.registerClient(leaky());
    kit.unregisterClient(c);
    List<LeftoverReclaimed> found = kit.leftovers();
    assertEquals(1, found.size(), found.toString());
    assertEquals(c, found.get(0).client());
    assertThrows(AssertionError.class, kit::assertNoLeftovers);
    kit.shutdown();
  }

  @Test
  @DisplayName("a client that cleans up leaves nothing: shutdown passes")
  void cleanClientPasses() {
    MidlayerTestKit kit = MidlayerTestKit.create();
    kit.addDevice("lo%d", 1);
    kit.registerClient(new RecordingClient("clean", new CallbackLog()));
    kit.shutdown();
  }
}
