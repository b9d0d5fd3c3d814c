package dev.midlayer.testkit;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ProbesTest {

  // A midlayer per test, shut down after it; a test that leaves something behind fails.
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(0).build();
  private MidlayerTestKit kit;

  @BeforeEach
  void start() {
    kit = fabric.kit();
  }

  @Test
  @DisplayName("EventProbe records a device's events in order and awaits one by type; awaiting one that never "
      + "comes fails naming what it got")
  void eventProbe() {
    LoopbackDevice lo = kit.addDevice("lo%d", 1);
    EventProbe probe = new EventProbe();
    EventHandlerRegistration reg = await(lo.device().registerEventHandler("probe", probe));
    lo.linkDown(1);
    lo.linkUp(1);
    probe.await(AsyncEventType.PORT_ACTIVE);
    assertEquals(List.of(AsyncEventType.PORT_ERR, AsyncEventType.PORT_ACTIVE), probe.types());
    AssertionError none = assertThrows(AssertionError.class, () -> probe.await(e -> false, "impossible"));
    assertTrue(none.getMessage().contains("no impossible event") && none.getMessage().contains("PORT_ERR"),
        none.getMessage());
    await(reg.unregister());
  }

  @Test
  @DisplayName("CompletionProbe records every completion of its CQ, in order (it re-arms the CQ after each call)")
  void completionProbe() {
    CompletionProbe sends = new CompletionProbe();
    CompletionProbe receives = new CompletionProbe();
    try (ConnectedPair p = ConnectedPair.rc(kit).completionHandlers(sends, receives)
        .cap(new dev.midlayer.ib.QpCap(128, 128, 1, 1, 0)).cqEntries(256).build()) {
      int n = 100;
      for (int i = 0; i < n; i++) {
        p.b().qp().postRecv(RecvWr.of(1000 + i, Sge.of(p.b().mr(), 64L * (i % 16), 64)));
      }
      for (int i = 0; i < n; i++) {
        long id = i;
        p.a().qp().postSend(SendWr.send(id, 0, Sge.of(p.a().mr(), 0, 8)));
      }
      List<WorkCompletion> sent = sends.await(n);
      List<WorkCompletion> received = receives.await(n);
      for (int i = 0; i < n; i++) {
        assertEquals(i, sent.get(i).wrId(), "send completions in posting order");
        assertEquals(1000 + i, received.get(i).wrId(), "receive completions in posting order");
        assertEquals(WcStatus.SUCCESS, received.get(i).status());
      }
    }
  }
}
