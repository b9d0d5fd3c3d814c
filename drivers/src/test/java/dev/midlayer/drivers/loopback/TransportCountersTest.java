package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.poll;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The engine's transport counters, per QP and per port, as the transport's events happen. */
class TransportCountersTest {
  /** sq_psn of the sender (FaultFixture's pairs): message i has PSN 0x100 + i. */
  private static final int FIRST_PSN = 0x100;

  @Test
  @DisplayName("a clean exchange counts each side's packets and bytes; the port is the sum of its QPs")
  void packetsAndBytes() throws Exception {
    try (FaultFixture f = new FaultFixture("counters-clean")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 8, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      postRecvs(b, 4);
      postMessages(a, 0, 4);
      poll(b.cq, 4);
      poll(a.cq, 4);
      TransportCounters ca = a.qp.counters();
      TransportCounters cb = b.qp.counters();
      assertEquals(4, ca.sentPackets(), ca::toString);
      assertEquals(4L * FaultFixture.MSG, ca.sentBytes(), ca::toString);
      assertEquals(4, cb.receivedPackets(), cb::toString);
      assertEquals(4L * FaultFixture.MSG, cb.receivedBytes(), cb::toString);
      // The ACKs (one per request or coalesced): a got at least one, and never more than b sent (a is read
      // first; b counts before it sends).
      assertTrue(ca.receivedPackets() >= 1 && cb.sentPackets() >= ca.receivedPackets(), () -> ca + " / " + cb);
      assertEquals(0, ca.retransmittedPackets() + ca.ackTimeouts() + ca.completionsWithError(), ca::toString);
      assertEquals(ca, a.dev.device().portCounters(1), "the port of a's one QP");
      // A destroyed QP's counters stay in its port's.
      FaultFixture.await(a.qp.destroy());
      assertEquals(ca, a.dev.device().portCounters(1));
    }
  }

  @Test
  @DisplayName("a lost request: the responder's sequence NAK, the requester's retransmission")
  void sequenceNakAndRetransmission() throws Exception {
    try (FaultFixture f = new FaultFixture("counters-seq")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 8, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      f.fabric.faults(FaultPlan.builder(1).dropFirst(FaultPlan.Match.any().data().psn(FIRST_PSN + 1), 1).build());
      postRecvs(b, 4);
      postMessages(a, 0, 4);
      poll(b.cq, 4);
      poll(a.cq, 4);
      TransportCounters ca = a.qp.counters();
      TransportCounters cb = b.qp.counters();
      assertTrue(ca.sequenceNaksReceived() >= 1 && cb.sequenceNaksSent() >= ca.sequenceNaksReceived(),
          () -> ca + " / " + cb);
      // Go-back-N from message 1: what was in flight when the NAK came goes again (1 and 2, or 1..3).
      assertTrue(ca.retransmittedPackets() >= 1, "message 1 again at least: " + ca);
      assertEquals(4 + ca.retransmittedPackets(), ca.sentPackets(), ca::toString);
    }
  }

  @Test
  @DisplayName("a lost last request: an ACK timeout, then the retransmission")
  void ackTimeout() throws Exception {
    try (FaultFixture f = new FaultFixture("counters-timeout")) {
      FaultFixture.Side[] p = f.pair(QpType.RC, 8, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      f.fabric.faults(FaultPlan.builder(1).dropFirst(FaultPlan.Match.any().data().psn(FIRST_PSN + 3), 1).build());
      postRecvs(b, 4);
      postMessages(a, 0, 4);
      poll(b.cq, 4);
      poll(a.cq, 4);
      TransportCounters ca = a.qp.counters();
      assertTrue(ca.ackTimeouts() >= 1, ca::toString);
      assertTrue(ca.retransmittedPackets() >= 1, ca::toString);
    }
  }

  @Test
  @DisplayName("no receive posted: RNR NAKs each way; with rnr_retry 0 the budget runs out (one WARN), the rest flush")
  void rnrAndExceededRetries() throws Exception {
    try (FaultFixture f = new FaultFixture("counters-rnr")) {
      QpConnect.Params noRnrRetry = FaultFixture.RELIABLE.withRetries(24, 7, 0, 1);
      FaultFixture.Side[] p = f.pair(QpType.RC, 8, noRnrRetry);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      // The requester's QP goes to ERR: one WARN names it, its device and port, the status and the WR.
      List<WorkCompletion> wcs = LoggingTestKit.warn("QP " + a.qp.qpNum() + " on " + a.dev.name()
          + " port 1 entered ERR: RNR_RETRY_EXC_ERR on send wr_id 0 (SEND_WITH_IMM)")
          .withMdc(java.util.Map.of("midlayer.device", a.dev.name(), "midlayer.port", "1",
              "midlayer.qp", String.valueOf(a.qp.qpNum())))
          .expect(f.testKit.system(),
          () -> {
            postMessages(a, 0, 3);
            return poll(a.cq, 3);
          });
      assertEquals(WcStatus.RNR_RETRY_EXC_ERR, wcs.get(0).status(), wcs::toString);
      TransportCounters ca = a.qp.counters();
      TransportCounters cb = b.qp.counters();
      // Later RNR NAKs (for the WRs behind the first) may still be on their way: a never got more than b sent.
      assertTrue(ca.rnrNaksReceived() >= 1 && cb.rnrNaksSent() >= ca.rnrNaksReceived(), () -> ca + " / " + cb);
      assertEquals(1, ca.retriesExceeded(), ca::toString);
      assertEquals(1, ca.completionsWithError(), ca::toString);
      assertEquals(2, ca.completionsFlushed(), "the two WRs after it: " + ca);
    }
  }
}
