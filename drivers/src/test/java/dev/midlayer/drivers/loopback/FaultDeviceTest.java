package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.assertQuiet;
import static dev.midlayer.drivers.loopback.FaultFixture.await;
import static dev.midlayer.drivers.loopback.FaultFixture.awaitTrue;
import static dev.midlayer.drivers.loopback.FaultFixture.direction;
import static dev.midlayer.drivers.loopback.FaultFixture.poll;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static dev.midlayer.drivers.loopback.FaultFixture.received;
import static dev.midlayer.drivers.loopback.FaultFixture.trace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.PortState;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Faults of a whole device or link: DEVICE_FATAL, a link flap, a CQ filled to overflow. */
class FaultDeviceTest {

  private static long count(FaultFixture.Side s, AsyncEventType type, boolean device) {
    return (device ? s.deviceEvents : s.events).stream().filter(e -> e.type() == type).count();
  }

  @Test
  @DisplayName("raiseFatal: DEVICE_FATAL reaches the device's handlers, its QP goes to ERR and every posted WR "
      + "(in flight, queued, receive, posted after) ends in exactly one WR_FLUSH_ERR")
  void deviceFatalFlushesEverythingOnce() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-device-fatal")) {
      // Timeout 0 waits forever and every request is dropped: the sends stay in flight until the fatal error.
      FaultFixture.Side[] p = f.pair(QpType.RC, 32, QpConnect.Params.defaults().withRetries(0, 7, 7, 1));
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      FaultPlan plan = FaultPlan.builder(1).dropAll(FaultPlan.Match.any().direction(direction(a, b))).build();
      f.fabric.faults(plan);
      postRecvs(b, 10);
      for (int i = 0; i < 5; i++) {
        a.qp.postRecv(RecvWr.of(100 + i, Sge.of(a.mr, (20 + i) * FaultFixture.SLOT, FaultFixture.SLOT)));
      }
      postMessages(a, 0, 10);
      awaitTrue(() -> "the 10 requests on the wire: " + plan.counts(direction(a, b)),
          () -> plan.counts(direction(a, b)).packets() >= 10);

      a.dev.raiseFatal();
      assertTrue(a.dev.isFatal());
      awaitTrue(() -> "DEVICE_FATAL at the handler: " + a.deviceEvents,
          () -> count(a, AsyncEventType.DEVICE_FATAL, true) == 1);
      AsyncEvent fatal = a.deviceEvents.stream().filter(e -> e.type() == AsyncEventType.DEVICE_FATAL)
          .findFirst().orElseThrow();
      assertEquals(a.dev.device(), fatal.device());
      List<WorkCompletion> flushed = poll(a.cq, 15);
      FaultFixture.awaitTrue(() -> "a in ERR", () -> a.qp.state() == QpState.ERR);
      // Posted after the fatal error: flushed too.
      postMessages(a, 10, 12);
      flushed.addAll(poll(a.cq, 2));

      List<Long> sends = new ArrayList<>();
      TreeSet<Long> recvs = new TreeSet<>();
      for (WorkCompletion wc : flushed) {
        assertEquals(WcStatus.WR_FLUSH_ERR, wc.status(), () -> trace(flushed).toString());
        if (wc.wrId() >= 100) {
          assertTrue(recvs.add(wc.wrId()), "receive " + wc.wrId() + " completed twice");
        } else {
          sends.add(wc.wrId());
        }
      }
      assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L), sends, "sends flushed once, in order");
      assertEquals(new TreeSet<>(List.of(100L, 101L, 102L, 103L, 104L)), recvs);
      assertQuiet(a.cq, 50);

      assertEquals(PortState.DOWN, a.dev.portState(1), "a dead device's ports are down");
      a.dev.linkUp(1);
      assertEquals(PortState.DOWN, a.dev.portState(1), "and stay down");
      a.dev.raiseFatal(); // only the first call does anything
      assertQuiet(a.cq, 20);
      assertEquals(1, count(a, AsyncEventType.DEVICE_FATAL, true));
      assertEquals(0, count(a, AsyncEventType.PORT_ERR, true), "no port events: the device event says it");
      // The other device is not affected.
      assertEquals(0, count(b, AsyncEventType.DEVICE_FATAL, true));
      assertEquals(QpState.RTS, b.qp.state());
      assertFalse(b.dev.isFatal());
    }
  }

  @Test
  @DisplayName("flap: PORT_ERR then PORT_ACTIVE reach the handler, and RC traffic posted across the flap "
      + "arrives exactly once and in order")
  void linkFlap() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-flap")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 64, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      int n = 40;
      postRecvs(b, n);
      postMessages(a, 0, n / 2);
      CompletionStage<Done> up = a.dev.flap(1, Duration.ofSeconds(5)); // 5 ms at timer-scale 0.001
      postMessages(a, n / 2, n);
      await(up);
      assertEquals(PortState.ACTIVE, a.dev.portState(1));
      awaitTrue(() -> "PORT_ERR and PORT_ACTIVE: " + a.deviceEvents,
          () -> count(a, AsyncEventType.PORT_ACTIVE, true) == 1);
      List<AsyncEventType> types = a.deviceEvents.stream().map(AsyncEvent::type).toList();
      assertEquals(List.of(AsyncEventType.PORT_ERR, AsyncEventType.PORT_ACTIVE), types);
      assertEquals(1, a.deviceEvents.iterator().next().portNum());

      List<WorkCompletion> recvs = poll(b.cq, n);
      for (int i = 0; i < n; i++) {
        assertEquals(i, received(b, recvs.get(i), 0));
      }
      List<WorkCompletion> sends = poll(a.cq, n);
      for (int i = 0; i < n; i++) {
        assertEquals(i, sends.get(i).wrId());
        assertEquals(WcStatus.SUCCESS, sends.get(i).status(), () -> trace(sends).toString());
      }
      assertQuiet(b.cq, 50);
    }
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
