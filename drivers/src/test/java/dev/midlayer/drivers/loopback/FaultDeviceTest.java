package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.await;
import static dev.midlayer.drivers.loopback.FaultFixture.awaitTrue;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.QpConnect;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A CQ filled to overflow (DEVICE_FATAL and the link flap are the testkit's FaultContract). */
class FaultDeviceTest {

  private static long count(FaultFixture.Side s, AsyncEventType type, boolean device) {
    return (device ? s.deviceEvents : s.events).stream().filter(e -> e.type() == type).count();
  }

  @Test
  @DisplayName("a CQ smaller than the queues feeding it overflows: CQ_ERR, QP_FATAL, and the QP goes to ERR")
  void cqOverflow() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-cq-overflow")) {
      FaultFixture.Side a = f.side(2, 16); // 2 entries for a send queue of 16
      FaultFixture.Side b = f.side(64, 16);
      FaultFixture.createQp(a, QpType.RC, 16);
      FaultFixture.createQp(b, QpType.RC, 16);
      await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, FaultFixture.RELIABLE));
      await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, FaultFixture.RELIABLE));
      postRecvs(b, 8);
      postMessages(a, 0, 8); // eight signaled sends, nobody polls a's CQ
      awaitTrue(() -> "a's CQ to overflow", a.cq::overflowed);
      awaitTrue(() -> "CQ_ERR and QP_FATAL: " + a.events,
          () -> count(a, AsyncEventType.CQ_ERR, false) == 1 && count(a, AsyncEventType.QP_FATAL, false) >= 1);
      awaitTrue(() -> "a in ERR", () -> a.qp.state() == QpState.ERR);
      assertEquals(QpState.RTS, b.qp.state(), "the peer is not affected");
    }
  }
}
