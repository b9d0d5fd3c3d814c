package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class MidlayerExtensionTest {
  private static MidlayerTestKit first;

  @Test
  void theExtensionInjectsOneKitPerClass(MidlayerTestKit kit) {
    if (first == null) {
      first = kit;
    } else {
      assertSame(first, kit);
    }
  }

  @Test
  void theSameKitInTheNextTest(MidlayerTestKit kit) {
    theExtensionInjectsOneKitPerClass(kit);
  }

  @Test
  void recordingClientsSeeTheLifecycleInOrder(MidlayerTestKit kit) {
    CallbackLog log = new CallbackLog();
    ClientId a = kit.registerClient(new RecordingClient("a", log));
    LoopbackDevice lo = kit.addDevice("tk%d", 1);
    ClientId b = kit.registerClient(new RecordingClient("b", log));
    kit.removeDevice(lo);
    kit.unregisterClient(a);
    kit.unregisterClient(b);
    assertEquals(List.of("a+tk0", "b+tk0", "b-tk0", "a-tk0"), log.sequence());
    log.assertLifecycleContract();
    assertTrue(kit.midlayer().devices().isEmpty());
  }

  @Test
  void theContractCheckReportsARemoveWithoutAdd() {
    CallbackLog log = new CallbackLog();
    log.record("a", "lo0", 0, CallbackLog.Kind.ADD, false);
    log.record("a", "lo0", 0, CallbackLog.Kind.REMOVE, true);
    AssertionError e = assertThrows(AssertionError.class, log::assertLifecycleContract);
    assertTrue(e.getMessage().contains("remove for a on lo0#0 that was not added"), e.getMessage());
  }

  @Test
  void theContractCheckReportsADoubleAdd() {
    CallbackLog log = new CallbackLog();
    log.record("a", "lo0", 0, CallbackLog.Kind.ADD, true);
    log.record("a", "lo0", 0, CallbackLog.Kind.ADD, true);
    AssertionError e = assertThrows(AssertionError.class, log::assertLifecycleContract);
    assertTrue(e.getMessage().contains("second add for a on lo0#0"), e.getMessage());
  }
}
