package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ConnectedPairTest {

  // A midlayer per test, shut down after it; a test that leaves something behind fails.
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(0).build();
  private MidlayerTestKit kit;

  @BeforeEach
  void start() {
    kit = fabric.kit();
  }

  /** Polls {@code cq} until {@code n} completions came. Blocks the test thread. */
  private static List<WorkCompletion> await(CompletionQueue cq, int n) {
    List<WorkCompletion> got = new ArrayList<>();
    Await.eventually(() -> {
      for (WorkCompletion wc; got.size() < n && (wc = cq.poll()) != null; ) {
        got.add(wc);
      }
      assertEquals(n, got.size(), "completions on " + cq);
    });
    return got;
  }

  private static void sendAndReceive(ConnectedPair p, SendWr send) {
    p.b().qp().postRecv(RecvWr.of(7, Sge.of(p.b().mr(), 0, 64)));
    p.a().mr().buffer().put(0, (byte) 42);
    p.a().qp().postSend(send);
    WorkCompletion sent = await(p.a().cq(), 1).get(0);
    WorkCompletion received = await(p.b().cq(), 1).get(0);
    assertEquals(WcStatus.SUCCESS, sent.status(), sent.toString());
    assertEquals(WcStatus.SUCCESS, received.status(), received.toString());
    assertEquals(7, received.wrId());
    assertEquals(42, p.b().mr().buffer().get(p.b().qp().type() == QpType.UD ? 40 : 0), "the payload arrived");
  }

  @Test
  @DisplayName("an RC pair with the defaults is in RTS both ways: a SEND from a lands in b's receive")
  void rcPair() {
    try (ConnectedPair p = ConnectedPair.rc(kit).build()) {
      assertEquals(QpState.RTS, p.a().qp().query().qpState());
      assertEquals(QpState.RTS, p.b().qp().query().qpState());
      assertEquals(QpType.RC, p.a().qp().type());
      assertNull(p.a().ahToPeer());
      sendAndReceive(p, SendWr.send(1, 0, Sge.of(p.a().mr(), 0, 64)));
    }
  }

  @Test
  @DisplayName("a UC pair and a UD pair (with an address handle each way and the Q_Key) deliver a SEND too")
  void ucAndUdPairs() {
    try (ConnectedPair p = ConnectedPair.uc(kit).build()) {
      sendAndReceive(p, SendWr.send(1, 0, Sge.of(p.a().mr(), 0, 64)));
    }
    try (ConnectedPair p = ConnectedPair.ud(kit).qkey(0x1234).build()) {
      assertNotNull(p.a().ahToPeer());
      assertEquals(0x1234, p.qkey());
      // A UD receive starts with the 40-byte GRH space.
      p.b().qp().postRecv(RecvWr.of(7, Sge.of(p.b().mr(), 0, 40 + 64)));
      p.a().mr().buffer().put(0, (byte) 42);
      p.a().qp().postSend(SendWr.udSend(1, 0, p.a().ahToPeer(), p.b().qp().qpNum(), p.qkey(),
          Sge.of(p.a().mr(), 0, 64)));
      assertEquals(WcStatus.SUCCESS, await(p.a().cq(), 1).get(0).status());
      WorkCompletion received = await(p.b().cq(), 1).get(0);
      assertEquals(WcStatus.SUCCESS, received.status(), received.toString());
      assertEquals(42, p.b().mr().buffer().get(40), "the payload arrived after the GRH space");
    }
  }

  @Test
  @DisplayName("leaveInRtr: both QPs wait in RTR (a send is refused) until toRts; then traffic flows")
  void leftInRtr() {
    try (ConnectedPair p = ConnectedPair.rc(kit).leaveInRtr().build()) {
      assertEquals(QpState.RTR, p.a().qp().query().qpState());
      assertEquals(QpState.RTR, p.b().qp().query().qpState());
      PostException refused = assertThrows(PostException.class,
          () -> p.a().qp().postSend(SendWr.send(1, 0, Sge.of(p.a().mr(), 0, 8))));
      assertEquals(PostException.Reason.INVALID, refused.reason());
      p.toRts();
      assertEquals(QpState.RTS, p.a().qp().query().qpState());
      sendAndReceive(p, SendWr.send(2, 0, Sge.of(p.a().mr(), 0, 64)));
    }
    assertThrows(IllegalArgumentException.class, () -> ConnectedPair.ud(kit).leaveInRtr().build());
  }

  @Test
  @DisplayName("every default can be overridden: devices, capabilities, CQ size, buffer, PSNs, signaling")
  void overrides() {
    LoopbackDevice x = kit.addDevice("x%d", 1);
    LoopbackDevice y = kit.addDevice("y%d", 1);
    try (ConnectedPair p = ConnectedPair.rc(kit).devices(x, y).cap(new QpCap(8, 4, 2, 2, 64)).cqEntries(128)
        .buffer(4096, AccessFlags.LOCAL_WRITE).psns(1000, 2000).signalAll(false).build()) {
      assertEquals(x, p.a().device());
      assertEquals(y, p.b().device());
      assertEquals(8, p.a().qp().cap().maxSendWr());
      assertEquals(4, p.a().qp().cap().maxRecvWr());
      assertEquals(128, p.a().cq().capacity());
      assertEquals(4096, p.a().mr().length());
      assertEquals(1000, p.a().qp().query().sqPsn());
      assertEquals(2000, p.a().qp().query().rqPsn(), "a expects what b sends first");
      assertEquals(2000, p.b().qp().query().sqPsn());
      // Not signaled: the send completes silently, only the receive side sees a completion.
      p.b().qp().postRecv(RecvWr.of(7, Sge.of(p.b().mr(), 0, 64)));
      p.a().qp().postSend(SendWr.send(1, 0, Sge.of(p.a().mr(), 0, 64)));
      assertEquals(WcStatus.SUCCESS, await(p.b().cq(), 1).get(0).status());
      p.b().qp().postRecv(RecvWr.of(8, Sge.of(p.b().mr(), 0, 64)));
      p.a().qp().postSend(SendWr.builder(WrOpcode.SEND).wrId(2).flags(dev.midlayer.ib.SendFlags.SIGNALED)
          .sge(Sge.of(p.a().mr(), 0, 8)).build());
      assertEquals(2, await(p.a().cq(), 1).get(0).wrId(), "the signaled one is the first completion on a");
    }
    assertTrue(kit.midlayer().devices().contains(x.device()), "a pair leaves the devices it was given");
    kit.removeDevice(x);
    kit.removeDevice(y);
  }

  @Test
  @DisplayName("close destroys everything and removes the devices the pair added; a pair not closed is a leftover")
  void closeLeavesNothing() {
    ConnectedPair p = ConnectedPair.rc(kit).build();
    p.close();
    p.close(); // once is enough
    assertFalse(kit.midlayer().devices().contains(p.a().device().device()));
    kit.assertNoLeftovers();

    ConnectedPair leaked = ConnectedPair.rc(kit).build();
    kit.removeDevice(leaked.a().device());
    assertFalse(kit.leftovers().isEmpty(), "the unclosed pair's objects were reclaimed as leftovers");
    kit.removeDevice(leaked.b().device());
    kit.allowLeftovers();
  }
}
