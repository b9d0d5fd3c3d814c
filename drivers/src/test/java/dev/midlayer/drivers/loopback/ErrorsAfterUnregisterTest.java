package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.registry.NameTakenException;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What the loopback fabric keeps after an {@code addDevice} whose name registration refuses: no route to the
 * refused device's LIDs or GIDs ({@code LoopbackFabric.route}). The errors verbs report after unregistration are
 * the testkit's {@code UnregisterContract}.
 */
class ErrorsAfterUnregisterTest {
  private static final QpCap CAP = new QpCap(16, 16, 1, 1, 0);
  private static final int QKEY = 0x5EED;

  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("errors-after-unregister");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  // ---- addDevice with a name registration refuses ----

  @Test
  @DisplayName("addDevice with a name registration refuses at once (a space) leaves no route behind: its LIDs "
      + "route nowhere, and a UD send to them is dropped without harming the sender")
  void refusedNameLeavesNoRoutes() throws Exception {
    DpFixture.Side a = f.side(64, 4096, null);
    assertThrows(InvalidArgumentException.class, () -> f.fabric.addDevice("bad name", 1));
    DpFixture.Side b = f.side(64, 4096, null);
    assertRoutesOnlyToRegisteredPorts("after addDevice(\"bad name\") was refused");
    assertUdSendsToUnownedLidsAreHarmless(a, b);
  }

  @Test
  @DisplayName("addDevice with a name registration refuses later (taken) leaves the fabric's routes as they were")
  void takenNameLeavesRoutesAsTheyWere() throws Exception {
    LoopbackDevice first = await(f.fabric.addDevice("dup0", 2));
    ExecutionException x = assertThrows(ExecutionException.class, () -> await(f.fabric.addDevice("dup0", 2)));
    assertTrue(x.getCause() instanceof NameTakenException, () -> "failed with " + x.getCause());
    LoopbackDevice second = await(f.fabric.addDevice("lo%d", 1));
    assertEquals(List.of(first, second), f.fabric.devices());
    assertRoutesOnlyToRegisteredPorts("after addDevice(\"dup0\") was refused as taken");
  }

  /**
   * Every LID from 1 to a few past the highest in use routes to the registered device that has it, or nowhere;
   * every registered port's GID routes to its device.
   */
  private void assertRoutesOnlyToRegisteredPorts(String when) {
    List<LoopbackDevice> registered = f.fabric.devices();
    int maxLid = registered.stream().flatMapToInt(d -> IntStream.rangeClosed(1, d.portCount()).map(d::lid))
        .max().orElse(0);
    for (int lid = 1; lid <= maxLid + 4; lid++) {
      int l = lid;
      LoopbackDevice owner = registered.stream()
          .filter(d -> IntStream.rangeClosed(1, d.portCount()).anyMatch(p -> d.lid(p) == l)).findFirst().orElse(null);
      LoopbackDevice routed = f.fabric.route(AhAttr.ofLid(1, lid));
      assertSame(owner, routed, () -> when + ": LID " + l + " routes to " + routed + ", expected " + owner);
    }
    for (LoopbackDevice d : registered) {
      for (int p = 1; p <= d.portCount(); p++) {
        int port = p;
        LoopbackDevice routed = f.fabric.route(AhAttr.ofGid(1, d.gid(p)));
        assertSame(d, routed, () -> when + ": the GID of " + d.name() + " port " + port + " routes to " + routed);
      }
    }
  }

  /** UD sends from a to LIDs no registered device has complete (dropped); a's next send still reaches b. */
  private static void assertUdSendsToUnownedLidsAreHarmless(DpFixture.Side a, DpFixture.Side b) throws Exception {
    DpFixture.createQp(a, QpType.UD, CAP, true);
    DpFixture.createQp(b, QpType.UD, CAP, true);
    await(QpConnect.ud(a.qp, 1, QKEY, 0));
    await(QpConnect.ud(b.qp, 1, QKEY, 0));
    int unowned = a.dev.lid(1) + 1; // handed out to the refused device, if it took one
    for (int lid = unowned; lid < b.dev.lid(1); lid++) {
      AddressHandle ah = a.pd.createAh(AhAttr.ofLid(1, lid));
      a.qp.postSend(SendWr.udSend(lid, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8)));
      WorkCompletion wc = DpFixture.pollOne(a.cq);
      assertEquals(WcStatus.SUCCESS, wc.status(), () -> "a UD send to the unowned LID: " + wc);
    }
    b.qp.postRecv(RecvWr.of(5, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.builder(WrOpcode.SEND).wrId(6).ud(a.pd.createAh(b.lidPath()), b.qp.qpNum(), QKEY)
        .sge(Sge.of(a.mr, 0, 8)).build());
    DpFixture.assertOk(DpFixture.pollOne(a.cq));
    DpFixture.assertOk(DpFixture.pollOne(b.cq));
  }
}
