package dev.midlayer.drivers.loopback;

import static dev.midlayer.drivers.loopback.DpFixture.await;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.AddressHandle;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Loopback devices with several ports: the fabric plays the subnet manager, so every port of every device has
 * its own LID and GID, and a message addressed to a port arrives at that port's device.
 */
class MultiPortFabricTest {
  private static final int DEVICES = 3;
  private static final int PORTS = 3;
  private static final int QKEY = 0x600D;

  private DpFixture f;

  @BeforeEach
  void start() {
    f = DpFixture.start("multi-port");
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private List<LoopbackDevice> addDevices(int count, int ports) throws Exception {
    List<LoopbackDevice> devices = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      devices.add(await(f.fabric.addDevice("lo%d", ports)));
    }
    return devices;
  }

  @Test
  @DisplayName("two 2-port devices: port 2 of the first and port 1 of the second have different GIDs")
  void twoPortDevicesDoNotShareGids() throws Exception {
    List<LoopbackDevice> d = addDevices(2, 2);
    assertNotEquals(d.get(0).gid(2), d.get(1).gid(1),
        () -> d.get(0).name() + " port 2 and " + d.get(1).name() + " port 1 have the same GID");
  }

  @Test
  @DisplayName("every port of every device (3 devices x 3 ports) has a unique LID and a unique GID, as the "
      + "driver and the midlayer's port cache both report them")
  void everyPortHasUniqueLidAndGid() throws Exception {
    List<LoopbackDevice> devices = addDevices(DEVICES, PORTS);
    Map<Integer, String> lids = new LinkedHashMap<>();
    Map<Gid, String> gids = new LinkedHashMap<>();
    List<String> clashes = new ArrayList<>();
    for (LoopbackDevice d : devices) {
      for (int p = 1; p <= PORTS; p++) {
        String port = d.name() + " port " + p;
        assertEquals(d.lid(p), d.device().cachedPort(p).lid(), port + ": LID in the port cache");
        assertEquals(d.gid(p), d.device().cachedPort(p).gids().get(0), port + ": GID in the port cache");
        String lidOwner = lids.putIfAbsent(d.lid(p), port);
        if (lidOwner != null) {
          clashes.add(port + " has the LID " + d.lid(p) + " of " + lidOwner);
        }
        String gidOwner = gids.putIfAbsent(d.gid(p), port);
        if (gidOwner != null) {
          clashes.add(port + " has the GID " + d.gid(p) + " of " + gidOwner);
        }
      }
    }
    if (!clashes.isEmpty()) {
      fail(clashes.size() + " port(s) share an address: " + clashes);
    }
  }

  @Test
  @DisplayName("a UD SEND addressed by GID (with GRH) to each port of each device (3 x 3) is received by the QP on "
      + "that port of that device")
  void udSendByGidReachesEachPort() throws Exception {
    // The sender on a device of its own, added first.
    LoopbackDevice sender = await(f.fabric.addDevice("lo%d", 1));
    ProtectionDomain spd = await(sender.device().allocPd());
    CompletionQueue scq = await(sender.device().createCq(64, null, null, null));
    MemoryRegion smr = await(spd.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    QueuePair sqp = await(spd.createQp(QpInitAttr.of(QpType.UD, scq, new QpCap(16, 1, 1, 1, 0))));
    await(QpConnect.ud(sqp, 1, QKEY, 0));

    // On each receiving device, one UD QP per port, all completing into the device's CQ, each with a receive.
    List<LoopbackDevice> devices = addDevices(DEVICES, PORTS);
    List<CompletionQueue> cqs = new ArrayList<>();
    QueuePair[][] qps = new QueuePair[DEVICES][PORTS + 1];
    for (int d = 0; d < DEVICES; d++) {
      LoopbackDevice dev = devices.get(d);
      ProtectionDomain pd = await(dev.device().allocPd());
      CompletionQueue cq = await(dev.device().createCq(64, null, null, null));
      MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
      cqs.add(cq);
      for (int p = 1; p <= PORTS; p++) {
        QueuePair qp = await(pd.createQp(QpInitAttr.of(QpType.UD, cq, new QpCap(1, 4, 1, 1, 0))));
        await(QpConnect.ud(qp, p, QKEY, 0));
        for (int k = 0; k < 4; k++) { // spares, so that a message that went astray does not starve a later one
          qp.postRecv(RecvWr.of(p, Sge.of(mr, 128L * (4 * p + k), 40 + 64)));
        }
        qps[d][p] = qp;
      }
    }

    List<String> wrong = new ArrayList<>();
    for (int d = 0; d < DEVICES; d++) {
      for (int p = 1; p <= PORTS; p++) {
        LoopbackDevice dest = devices.get(d);
        String to = dest.name() + " port " + p + " (GID " + dest.gid(p) + ", QP " + qps[d][p].qpNum() + ")";
        AddressHandle ah = spd.createAh(AhAttr.ofGid(1, dest.gid(p)));
        sqp.postSend(SendWr.udSend(10L * d + p, SendFlags.SIGNALED, ah, qps[d][p].qpNum(), QKEY, Sge.of(smr, 0, 16)));
        WorkCompletion sent = DpFixture.pollOne(scq);
        assertEquals(WcStatus.SUCCESS, sent.status(), () -> "the send to " + to + ": " + sent);

        int[] at = {-1};
        WorkCompletion recv = pollAny(cqs, at);
        if (recv == null) {
          wrong.add("the send to " + to + " was received nowhere");
          continue;
        }
        LoopbackDevice got = devices.get(at[0]);
        if (at[0] != d || recv.qpNum() != qps[d][p].qpNum()) {
          wrong.add("the send to " + to + " was received by QP " + recv.qpNum() + " on " + got.name());
        } else {
          int port = p;
          assertAll(to,
              () -> assertEquals(WcStatus.SUCCESS, recv.status(), recv::toString),
              () -> assertEquals(WcFlags.GRH, recv.wcFlags() & WcFlags.GRH, "GRH flag"),
              () -> assertEquals(port, recv.wrId(), "the receive of the QP on that port"));
        }
      }
    }
    if (!wrong.isEmpty()) {
      fail(wrong.size() + " of " + DEVICES * PORTS + " messages addressed by GID went astray: " + wrong);
    }
  }

  @Test
  @DisplayName("a loopback device reports a non-zero vendor id (Linux rxe reports 0xFFFFFF)")
  void vendorIdIsNonZero() throws Exception {
    LoopbackDevice dev = await(f.fabric.addDevice("lo%d", 1));
    assertNotEquals(0, dev.device().attributes().vendorId(), "vendorId of " + dev.name());
    assertNotEquals(0, await(dev.device().queryDevice()).vendorId(), "vendorId from queryDevice");
  }

  /**
   * The first completion on any of {@code cqs} within 2 s (its index in {@code at[0]}), or null if none came.
   * 2 s is only reached when a message went nowhere; a delivered one arrives in micro- to milliseconds.
   */
  private static WorkCompletion pollAny(List<CompletionQueue> cqs, int[] at) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    int spins = 0;
    while (System.nanoTime() < deadline) {
      for (int i = 0; i < cqs.size(); i++) {
        WorkCompletion wc = cqs.get(i).poll();
        if (wc != null) {
          at[0] = i;
          return wc;
        }
      }
      DpFixture.backOff(spins++);
    }
    return null;
  }
}
