package dev.midlayer.drivers.loopback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LoopbackSendSmokeTest {
  private ActorTestKit testKit;
  private LoopbackFabric fabric;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create();
    fabric = LoopbackFabric.create(testKit.system());
  }

  @AfterEach
  void stop() {
    testKit.shutdownTestKit();
    MonitorVerdict.assertNone(testKit.system());
  }

  private static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void rcSendCarriesDataAndCompletesBothSides() throws Exception {
    LoopbackDevice a = await(fabric.addDevice("lo%d", 1));
    LoopbackDevice b = await(fabric.addDevice("lo%d", 1));
    ProtectionDomain pdA = await(a.device().allocPd());
    ProtectionDomain pdB = await(b.device().allocPd());
    CompletionQueue cqA = await(a.device().createCq(256, null, null, null));
    CompletionQueue cqB = await(b.device().createCq(256, null, null, null));
    QpCap cap = new QpCap(64, 64, 2, 2, 64);
    QueuePair qa = await(pdA.createQp(QpInitAttr.of(QpType.RC, cqA, cap)));
    QueuePair qb = await(pdB.createQp(QpInitAttr.of(QpType.RC, cqB, cap)));
    await(QpConnect.connect(qa, AhAttr.ofLid(1, b.lid(1)), qb.qpNum(), 100, 200, QpConnect.Params.defaults()));
    await(QpConnect.connect(qb, AhAttr.ofLid(1, a.lid(1)), qa.qpNum(), 200, 100, QpConnect.Params.defaults()));

    MemoryRegion src = await(pdA.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    MemoryRegion dst = await(pdB.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    int rounds = 1000;
    WorkCompletion[] wcs = new WorkCompletion[16];
    int sendsDone = 0;
    int recvsDone = 0;
    for (int i = 0; i < rounds; i++) {
      qb.postRecv(RecvWr.of(i, Sge.of(dst, 0, 64)));
      src.buffer().putInt(0, i);
      qa.postSend(SendWr.send(i, SendFlags.SIGNALED, Sge.of(src, 0, 64)));
      // Wait for both completions of this round, polling (a busy loop with back-off, as a ULP would).
      int spins = 0;
      while (sendsDone <= i || recvsDone <= i) {
        int n = cqA.poll(wcs);
        for (int k = 0; k < n; k++) {
          assertEquals(WcStatus.SUCCESS, wcs[k].status(), wcs[k].toString());
          assertEquals(i, wcs[k].wrId());
          sendsDone++;
        }
        n = cqB.poll(wcs);
        for (int k = 0; k < n; k++) {
          assertEquals(WcStatus.SUCCESS, wcs[k].status(), wcs[k].toString());
          assertEquals(64, wcs[k].byteLen());
          assertEquals(qa.qpNum(), wcs[k].srcQp());
          assertEquals(i, dst.buffer().getInt(0));
          recvsDone++;
        }
        if (++spins > 100) {
          Thread.yield();
        } else {
          Thread.onSpinWait();
        }
      }
    }
    assertEquals(rounds, sendsDone);
    assertEquals(rounds, recvsDone);
  }
}
