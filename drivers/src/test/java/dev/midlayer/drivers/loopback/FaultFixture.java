package dev.midlayer.drivers.loopback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * The loopback fault test's own fixture (the driver-independent fault scenarios are the testkit's
 * {@code FaultContract}): a fresh actor system with {@code midlayer.loopback.timer-scale = 0.001}, sides (device, PD, CQ, MR, QP, events), connected
 * pairs, message helpers that carry a sequence number in the immediate and in the payload, and bounded waits.
 * Nothing sleeps: the waits are DpFixture's bounded poll loops.
 */
final class FaultFixture implements AutoCloseable {
  /** Bytes of one message: the sequence number, big-endian, four times. */
  static final int MSG = 16;
  /** Room of one receive (a UD receive also holds the 40-byte GRH area). */
  static final int SLOT = 64;
  /** Timeout code 24 (about 69 ms at timer-scale 0.001) and 7 retries: no spurious RETRY_EXC_ERR under load. */
  static final QpConnect.Params RELIABLE = QpConnect.Params.defaults().withRetries(24, 7, 7, 1);

  final ActorTestKit testKit;
  final LoopbackFabric fabric;

  FaultFixture(String name) {
    testKit = ActorTestKit.create(name, ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001")
        .withFallback(ConfigFactory.load()));
    fabric = LoopbackFabric.create(testKit.system());
  }

  @Override
  public void close() {
    testKit.shutdownTestKit();
    MonitorVerdict.assertNone(testKit.system());
  }

  /** A device with a PD, a CQ for both queues, an MR, and the device's and its QP's events. */
  static final class Side {
    final LoopbackDevice dev;
    final ProtectionDomain pd;
    final CompletionQueue cq;
    final MemoryRegion mr;
    /** Affiliated events of the QP and the CQ. */
    final ConcurrentLinkedQueue<AsyncEvent> events;
    QueuePair qp;

    Side(LoopbackDevice dev, ProtectionDomain pd, CompletionQueue cq, MemoryRegion mr,
        ConcurrentLinkedQueue<AsyncEvent> events) {
      this.events = events;
      this.dev = dev;
      this.pd = pd;
      this.cq = cq;
      this.mr = mr;
    }

    AhAttr lidPath() {
      return AhAttr.ofLid(1, dev.lid(1));
    }
  }

  Side side(int cqDepth, int slots) throws Exception {
    LoopbackDevice dev = await(fabric.addDevice("lo%d", 1));
    ProtectionDomain pd = await(dev.device().allocPd());
    ConcurrentLinkedQueue<AsyncEvent> affiliated = new ConcurrentLinkedQueue<>();
    CompletionQueue cq = await(dev.device().createCq(cqDepth, null, affiliated::add, null));
    MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(slots * SLOT), AccessFlags.LOCAL_WRITE));
    Side s = new Side(dev, pd, cq, mr, affiliated);
    return s;
  }

  static QueuePair createQp(Side s, QpType type, int depth) throws Exception {
    s.qp = await(s.pd.createQp(new QpInitAttr(type, s.cq, s.cq, new QpCap(depth, depth, 1, 1, 0), true,
        s.events::add, null)));
    return s.qp;
  }

  /** Two connected RC or UC QPs on two devices, with queues of {@code depth}; PSNs start at 0x100 (a to b) and 0x200. */
  Side[] pair(QpType type, int depth, QpConnect.Params params) throws Exception {
    Side a = side(4 * depth, depth);
    Side b = side(4 * depth, depth);
    createQp(a, type, depth);
    createQp(b, type, depth);
    await(QpConnect.connect(a.qp, b.lidPath(), b.qp.qpNum(), 0x100, 0x200, params));
    await(QpConnect.connect(b.qp, a.lidPath(), a.qp.qpNum(), 0x200, 0x100, params));
    return new Side[] {a, b};
  }

  // ---- messages ----

  /** Posts receives {@code 0..n-1}, receive i into slot i of the MR. */
  static void postRecvs(Side s, int n) {
    List<RecvWr> wrs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      wrs.add(RecvWr.of(i, Sge.of(s.mr, i * SLOT, SLOT)));
    }
    s.qp.postRecv(wrs);
  }

  /** Writes message {@code seq} into slot {@code seq} of the sender's MR and returns its SEND_WITH_IMM (wr_id seq). */
  static SendWr message(Side s, int seq) {
    ByteBuffer b = s.mr.buffer();
    for (int k = 0; k < MSG / 4; k++) {
      b.putInt(seq * SLOT + 4 * k, seq);
    }
    return SendWr.sendWithImm(seq, dev.midlayer.ib.SendFlags.SIGNALED, seq, Sge.of(s.mr, seq * SLOT, MSG));
  }

  /** Posts messages {@code from..to-1} in one post (one chain). */
  static void postMessages(Side s, int from, int to) {
    List<SendWr> wrs = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      wrs.add(message(s, i));
    }
    s.qp.postSend(wrs);
  }

  /**
   * The sequence number a successful receive carries, from its payload (after {@code offset} bytes: 40 for UD's
   * GRH area): the four copies in the receive's slot, and the immediate if there is one, must agree.
   */
  static int received(Side s, WorkCompletion wc, int offset) {
    assertEquals(WcStatus.SUCCESS, wc.status(), () -> "receive " + wc);
    ByteBuffer b = s.mr.buffer();
    int seq = b.getInt((int) wc.wrId() * SLOT + offset);
    for (int k = 1; k < MSG / 4; k++) {
      int got = b.getInt((int) wc.wrId() * SLOT + offset + 4 * k);
      if (got != seq) {
        fail("receive " + wc.wrId() + ": the payload is torn (" + seq + ", " + got + ")");
      }
    }
    if ((wc.wcFlags() & dev.midlayer.ib.WcFlags.WITH_IMM) != 0 && wc.immData() != seq) {
      fail("receive " + wc.wrId() + ": the payload says " + seq + ", the immediate " + wc.immData());
    }
    return seq;
  }

  /** (wr_id, status) of each completion, as a compact replay record. */
  static List<String> trace(List<WorkCompletion> wcs) {
    List<String> out = new ArrayList<>(wcs.size());
    for (WorkCompletion wc : wcs) {
      out.add(wc.wrId() + ":" + wc.status() + (wc.ok() && wc.opcode() != null && wc.opcode().name().startsWith("RECV")
          ? ":imm=" + wc.immData() : ""));
    }
    return out;
  }

  // ---- waiting ----

  static <T> T await(CompletionStage<T> s) throws Exception {
    return DpFixture.await(s);
  }

  /** Polls exactly {@code n} completions, waiting for them ({@link DpFixture#poll}). */
  static List<WorkCompletion> poll(CompletionQueue cq, int n) {
    return DpFixture.poll(cq, n);
  }
}
