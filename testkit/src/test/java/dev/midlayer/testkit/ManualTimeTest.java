package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ManualTimeTest {
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(2).manualTime().build();

  @Test
  @DisplayName("on the manual clock an RC send to a dead peer with an ACK timeout of hours (timeout 31, about "
      + "2.4 h) fails with RETRY_EXC_ERR as soon as the test lets a day pass")
  void ackTimeoutsFollowTheManualClock() {
    QpConnect.Params hours = QpConnect.Params.defaults().withRetries(31, 1, 0, 1);
    try (ConnectedPair p = ConnectedPair.rc(fabric.kit()).devices(fabric.loopback(0), fabric.loopback(1))
        .params(hours).build()) {
      p.b().device().linkDown(1);
      p.a().qp().postSend(SendWr.send(1, SendFlags.SIGNALED, Sge.of(p.a().mr(), 0, 8)));
      AtomicReference<WorkCompletion> failed = new AtomicReference<>();
      // Each round lets a day pass; the first after the driver armed its timer brings the failure.
      Await.eventually(() -> {
        fabric.kit().manualTime().timePasses(Duration.ofDays(1));
        WorkCompletion wc = p.a().cq().poll();
        assertNotNull(wc, "no completion yet");
        failed.set(wc);
      });
      assertEquals(WcStatus.RETRY_EXC_ERR, failed.get().status(), failed.get().toString());
      p.b().device().linkUp(1);
    }
  }
}
