package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.FaultFixture.poll;
import static dev.midlayer.drivers.loopback.FaultFixture.postMessages;
import static dev.midlayer.drivers.loopback.FaultFixture.postRecvs;
import static dev.midlayer.drivers.loopback.FaultFixture.received;
import static dev.midlayer.drivers.loopback.FaultFixture.trace;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What the loopback driver does with a duplicated UC packet: like rxe, it delivers it twice. (Losses, their
 * replay and RC's exactly-once are driver-independent: the testkit's {@code FaultContract}.)
 */
class FaultUnreliableTest {
  /** sq_psn of the sender (FaultFixture's pairs): message i has PSN 0x100 + i. */
  private static final int FIRST_PSN = 0x100;

  @Test
  @DisplayName("UC duplicates are delivered twice (no duplicate detection on a first/only packet, as in rxe)")
  void ucDuplicateArrivesTwice() throws Exception {
    try (FaultFixture f = new FaultFixture("fault-uc-dup")) {
      FaultFixture.Side[] p = f.pair(QpType.UC, 8, FaultFixture.RELIABLE);
      FaultFixture.Side a = p[0];
      FaultFixture.Side b = p[1];
      f.fabric.faults(FaultPlan.builder(1).duplicate(FaultPlan.Match.any().psn(FIRST_PSN + 1), 1.0).build());
      postRecvs(b, 4);
      postMessages(a, 0, 3);
      List<WorkCompletion> recvs = poll(b.cq, 4);
      List<Integer> got = new ArrayList<>();
      for (WorkCompletion wc : recvs) {
        got.add(received(b, wc, 0));
      }
      assertEquals(List.of(0, 1, 1, 2), got, trace(recvs)::toString);
      assertEquals(3, poll(a.cq, 3).size());
    }
  }
}
