package dev.midlayer.testkit.model;

import static dev.midlayer.testkit.MidlayerTestKit.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.drivers.fault.FaultPlan;
import dev.midlayer.drivers.fault.PacketKind;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.testkit.Await;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.Seeds;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Randomized traffic model: two QPs of one type (RC, UC or UD, drawn per iteration) on two loopback devices
 * take seeded random sequences of posts (SEND, SEND_WITH_IMM, RDMA WRITE and WRITE_WITH_IMM on RC/UC, RDMA READ
 * and both atomics on RC; sizes from 0 to 1024 bytes over a path MTU of 256, 1024 or 4096, inline or not,
 * signaled or not), receives, polls, modifies (to ERR, RTS to SQD and back, RTS to RTS, and illegal ones that
 * must be refused and change nothing), reconnects (ERR, drain, RESET, INIT, RTR, RTS with new PSNs), fault plans
 * (drop, duplicate, reorder, delay with seeded probabilities) and link flaps. A model in the test predicts:
 *
 * <ul>
 *   <li>per send and receive queue, completions in posting order, each WR exactly once (an unsignaled send only
 *       on error), SUCCESS before the first error and only WR_FLUSH_ERR after it; an error only where the model
 *       allows one (flushes after our modify to ERR; RETRY_EXC_ERR on RC only when the peer was put in ERR);
 *   <li>RC: each message received exactly once, in order, with the right length, immediate and bytes (a
 *       sequence number and a seeded pattern in the payload), and every message the sender saw succeed was
 *       received; after a quiesce everything posted has completed SUCCESS and been received;
 *   <li>UC and UD: what arrives is intact and, without reordering or duplicating faults, a strictly increasing
 *       subsequence of what was sent; every sender completion is SUCCESS; a message sent over a lossless link to
 *       a receiver that had a receive for it arrives;
 *   <li>the memory model: a byte array per responder region, updated in posting order by WRITEs and atomics;
 *       READs and atomics return what the model held, and after a quiesce the region equals the model (bytes a
 *       failed or possibly lost WRITE touched become unknown until the next reconnect rewrites the region);
 *   <li>after each modify the state IB's table gives ({@code query().qpState()}), a refused modify changes
 *       nothing; QUEUE_FULL never while fewer than the QP's {@code maxSendWr} are outstanding;
 *   <li>the contract monitor's exactly-once ledger agrees (nothing outstanding once both QPs are drained), and
 *       {@link MidlayerTestKit#shutdown()} finds no violation.
 * </ul>
 *
 * <p>RC runs with {@code timer-scale 0.001}, timeout code 24 and 7 retries: the drop probabilities (at most 0.1)
 * make running out of retries vanishingly unlikely, so RC exhausting its retries is not modelled (it would fail
 * the test). Every checked property holds whatever the timing.
 */
class TrafficModelTest {
  private static final int CI_ITERATIONS = 150;
  private static final int STEPS = 80;
  private static final int SQ = 16;
  private static final int RQ = 32;
  private static final int MAX_INLINE = 64;
  private static final int MAX_MSG = 1024;
  private static final int SLOT = MAX_MSG + 64;
  private static final int GRH = 40;
  private static final int SEND_AREA = 0;
  private static final int RECV_AREA = SEND_AREA + SQ * SLOT;
  private static final int TARGET = 64 * 1024 - 8192;
  private static final int TARGET_LEN = 4096;
  private static final int MR_BYTES = 64 * 1024;
  private static final int QKEY = 0x0BAD_CAFE;
  private static final int ACCESS = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ
      | AccessFlags.REMOTE_ATOMIC;

  @RegisterExtension
  final Seeds seeds = new Seeds();

  private MidlayerTestKit kit;
  private LoopbackDevice devA;
  private LoopbackDevice devB;
  private final int[] stats = new int[16];

  @BeforeEach
  void start() {
    kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.loopback.timer-scale = 0.001"));
    devA = kit.addDevice("tma%d", 1);
    devB = kit.addDevice("tmb%d", 1);
  }

  @AfterEach
  void stop() {
    kit.fabric().clearFaults();
    kit.shutdown();
  }

  // ---------------------------------------------------------------- the model

  enum Kind { SEND, SEND_IMM, WRITE, WRITE_IMM, READ, FETCH_ADD, CMP_SWAP, FENCE }

  /** A message (consumes a receive at the peer): sequence number per direction. */
  record Msg(int seq, Kind kind, int len, int epoch) {}

  /** A posted send WR. */
  static final class SendEntry {
    final long wrId;
    final Kind kind;
    final boolean signaled;
    final int slot;
    final int len;
    final Msg msg;
    /** WRITE, WRITE_IMM, atomics: the peer's target range it changes. */
    final int remoteOff;
    /** READ: what the model said the range held when posted (null bytes unknown); atomics: the original. */
    final Integer[] expect;

    SendEntry(long wrId, Kind kind, boolean signaled, int slot, int len, Msg msg, int remoteOff, Integer[] expect) {
      this.wrId = wrId;
      this.kind = kind;
      this.signaled = signaled;
      this.slot = slot;
      this.len = len;
      this.msg = msg;
      this.remoteOff = remoteOff;
      this.expect = expect;
    }

    @Override
    public String toString() {
      return "#" + wrId + " " + kind + (signaled ? "" : " (unsignaled)") + " len " + len
          + (msg != null ? " seq " + msg.seq() : "");
    }
  }

  /** One side: its objects and the model of its queues, of its region and of what it sends. */
  final class Side {
    final String name;
    final LoopbackDevice dev;
    ProtectionDomain pd;
    CompletionQueue scq;
    CompletionQueue rcq;
    MemoryRegion mr;
    QueuePair qp;
    AddressHandle ah;
    Side peer;
    /** The state the model is sure of, or null if the QP may have moved itself to ERR. */
    QpState state = QpState.RESET;
    final ArrayDeque<SendEntry> sq = new ArrayDeque<>();
    final ArrayDeque<long[]> rq = new ArrayDeque<>(); // {wrId, slot}
    long posts;
    long recvPosts;
    long nextWrId = 1;
    /** The send queue saw an error since the last reconnect: only flushes from now on. */
    boolean sqError;
    boolean rqError;
    /** Errors allowed: flushes (we moved it to ERR) and, on RC, RETRY_EXC_ERR (its peer is in ERR). */
    boolean flushAllowed;
    boolean retryExcAllowed;
    /** The model of this side's target region (what the peer WRITEs, READs and atomics see); null = unknown. */
    final Integer[] target = new Integer[TARGET_LEN];
    /** Messages this side sends: next sequence number, and what was sent by sequence number. */
    int nextSeq;
    final Map<Integer, Msg> sent = new HashMap<>();
    /** Messages this side receives: the next expected (RC) or the last seen plus one (UC/UD). */
    int expectNext;
    final java.util.Set<Integer> acked = new java.util.HashSet<>();
    final java.util.Set<Integer> mustArrive = new java.util.TreeSet<>();
    final java.util.Set<Integer> received = new java.util.HashSet<>();
    int recvsThisEpoch;
    int msgsToPeerThisEpoch;

    Side(String name, LoopbackDevice dev) {
      this.name = name;
      this.dev = dev;
    }

    int addr(int off) {
      return off;
    }
  }

  private Gen g;
  private QpType type;
  private Side a;
  private Side b;
  private int epoch;
  private Mtu mtu;
  private boolean lossy;
  private boolean unordered;
  private boolean duplicates;
  private boolean broken;
  private final List<CompletionStage<Done>> flaps = new ArrayList<>();
  private String at = "setup";

  // ---------------------------------------------------------------- the test

  @Test
  @DisplayName("random verbs, state changes, faults and flaps on RC/UC/UD pairs against the traffic and memory model")
  void randomTraffic() throws Exception {
    g = new Gen(seeds.seed());
    int iterations = Budget.iterations(CI_ITERATIONS);
    try {
      for (int it = 0; it < iterations; it++) {
        iteration(it);
      }
    } catch (Throwable t) {
      kit.allowLeftovers(); // the objects of a failed iteration are not the finding
      throw t;
    }
    System.out.printf("[model] traffic: %d iterations; %d posts, %d receives, %d completions, %d messages "
        + "received, %d reconnects, %d fault plans, %d flaps%n", iterations, stats[0], stats[1], stats[2], stats[3],
        stats[5], stats[6], stats[7]);
    System.out.printf("[model] traffic checks: %d quiesces, %d send SUCCESS (%d implied), %d flushed, %d retry "
        + "exceeded, %d READs and %d atomics checked against the memory model, %d region checks, %d refused "
        + "modifies%n", stats[8], stats[9], stats[10], stats[11], stats[12], stats[13], stats[14], stats[15],
        stats[4]);
  }

  private void iteration(int it) throws Exception {
    type = g.pick(QpType.RC, QpType.RC, QpType.UC, QpType.UD);
    mtu = type == QpType.UD ? Mtu.MTU_4096 : g.pick(Mtu.MTU_256, Mtu.MTU_1024, Mtu.MTU_4096);
    a = new Side("A", devA);
    b = new Side("B", devB);
    a.peer = b;
    b.peer = a;
    at = "iteration " + it + " (" + type + ", " + mtu + ") setup";
    for (Side s : new Side[] {a, b}) {
      s.pd = await(s.dev.device().allocPd());
      s.scq = await(s.dev.device().createCq(4 * SQ, null, null, null));
      s.rcq = await(s.dev.device().createCq(4 * RQ, null, null, null));
      s.mr = await(s.pd.registerMr(ByteBuffer.allocateDirect(MR_BYTES), ACCESS));
      createQp(s);
      assertEquals(SQ, Math.min(SQ, s.qp.cap().maxSendWr()), at + ": the QP has room for " + SQ + " sends");
    }
    a.ah = type == QpType.UD ? a.pd.createAh(AhAttr.ofLid(1, devB.lid(1))) : null;
    b.ah = type == QpType.UD ? b.pd.createAh(AhAttr.ofLid(1, devA.lid(1))) : null;
    epoch = 0;
    newEpochFaults();
    connect();
    for (int step = 0; step < STEPS; step++) {
      int op = g.weighted(
          30, // 0 post a send
          14, // 1 post receives
          8, // 2 poll
          4, // 3 quiesce
          broken ? 30 : 2, // 4 reconnect
          1, // 5 modify a side to ERR
          3, // 6 SQD and back, RTS to RTS
          3, // 7 an illegal modify
          3, // 8 a fault plan, or none
          2); // 9 flap a link
      at = "iteration " + it + " (" + type + ", " + mtu + ") step " + step + " op " + op;
      switch (op) {
        case 0 -> postSend(g.chance(0.5) ? a : b);
        case 1 -> postRecvs(g.chance(0.5) ? a : b, g.between(1, 8));
        case 2 -> pollAll();
        case 3 -> quiesce();
        case 4 -> reconnect();
        case 5 -> toErr(g.chance(0.5) ? a : b);
        case 6 -> sqdOrRts(g.chance(0.5) ? a : b);
        case 7 -> illegalModify(g.chance(0.5) ? a : b);
        case 8 -> faults();
        default -> flap(g.chance(0.5) ? a : b);
      }
      pollAll();
    }
    at = "iteration " + it + " (" + type + ") end";
    if (!broken) {
      quiesce();
    }
    drainBoth();
    awaitFlaps(); // the devices serve the next iteration too: its link must be up
    assertEquals(0, kit.monitor().ledger().outstanding(), at + ": the monitor's ledger agrees that every WR "
        + "completed: " + kit.monitor().ledger());
    kit.fabric().clearFaults();
    for (Side s : new Side[] {a, b}) {
      await(s.qp.destroy());
      if (s.ah != null) {
        s.ah.destroy();
      }
      await(s.mr.deregister());
      await(s.scq.destroy());
      await(s.rcq.destroy());
      await(s.pd.dealloc());
    }
  }

  // ---------------------------------------------------------------- operations

  private void postSend(Side s) {
    // Draw everything first, so the draws do not depend on what the model (and so timing) says.
    int kindDraw = g.weighted(6, 4, 3, 2, 3, 1, 1);
    int sizeDraw = g.weighted(2, 3, 4, 2, 1);
    int len = switch (sizeDraw) {
      case 0 -> 0;
      case 1 -> g.between(1, 7);
      case 2 -> g.between(8, MAX_INLINE);
      case 3 -> g.between(MAX_INLINE + 1, 512);
      default -> g.between(513, MAX_MSG);
    };
    boolean inline = g.chance(0.5);
    boolean signaled = g.chance(0.6);
    int off = g.below(TARGET_LEN);
    long cmpOrAdd = g.nextLong();
    boolean matchCmp = g.chance(0.5);
    long swap = g.nextLong();
    Kind kind = Kind.values()[kindDraw];
    if (type == QpType.UD && kind != Kind.SEND && kind != Kind.SEND_IMM) {
      kind = Kind.SEND_IMM;
    } else if (type == QpType.UC && kindDraw >= 4) {
      kind = Kind.WRITE;
    }
    if (type != QpType.RC && kind == Kind.SEND && len < 4) {
      kind = Kind.SEND_IMM; // UC/UD identify a message by its immediate or its first four bytes
    }
    if (s.sq.size() >= SQ - 1) {
      return; // at most maxSendWr outstanding (the slot ring, the QUEUE_FULL rule), one kept for a marker
    }
    if (!IbStates.sendAllowed(modelState(s))) {
      return;
    }
    post(s, kind, len, inline, signaled, off, cmpOrAdd, matchCmp, swap);
  }

  private QpState modelState(Side s) {
    return s.state == null ? QpState.RTS : s.state; // RTS or ERR: both take posts
  }

  private void post(Side s, Kind kind, int len, boolean inline, boolean signaled, int off, long cmpOrAdd,
      boolean matchCmp, long swap) {
    long id = s.nextWrId++;
    int slot = (int) (s.posts % SQ);
    int local = SEND_AREA + slot * SLOT;
    ByteBuffer buf = s.mr.buffer();
    boolean isAtomic = kind == Kind.FETCH_ADD || kind == Kind.CMP_SWAP;
    if (kind == Kind.READ || kind == Kind.WRITE || kind == Kind.WRITE_IMM) {
      len = Math.min(len, TARGET_LEN - Math.min(off, TARGET_LEN - 1));
      off = Math.min(off, TARGET_LEN - len);
    }
    if (isAtomic) {
      off = off & ~7;
      len = 8;
    }
    boolean isMsg = kind == Kind.SEND || kind == Kind.SEND_IMM || kind == Kind.WRITE_IMM;
    Msg msg = null;
    if (isMsg) {
      msg = new Msg(s.nextSeq, kind, len, epoch);
    }
    int seq = isMsg ? msg.seq() : -1;
    // the payload: seq big-endian in the first four bytes, then a pattern of (seq, index)
    if (kind != Kind.READ && !isAtomic) {
      for (int i = 0; i < len; i++) {
        buf.put(local + i, payload(kind == Kind.WRITE ? (int) id : seq, i));
      }
    }
    boolean useInline = inline && len <= MAX_INLINE && kind != Kind.READ && !isAtomic && len > 0;
    int flags = (signaled || kind == Kind.FENCE ? SendFlags.SIGNALED : 0) | (useInline ? SendFlags.INLINE : 0);
    long remote = s.peer.mr.iova() + TARGET + off;
    Sge sge = Sge.of(s.mr, local, len);
    SendWr wr = switch (kind) {
      case SEND -> type == QpType.UD ? SendWr.udSend(id, flags, s.ah, s.peer.qp.qpNum(), QKEY, sge)
          : SendWr.send(id, flags, sge);
      case SEND_IMM -> SendWr.builder(WrOpcode.SEND_WITH_IMM).wrId(id).flags(flags).immData(seq).sges(sge)
          .ud(s.ah, type == QpType.UD ? s.peer.qp.qpNum() : 0, type == QpType.UD ? QKEY : 0).build();
      case WRITE, FENCE -> SendWr.builder(WrOpcode.RDMA_WRITE).wrId(id).flags(flags).sges(sge)
          .remote(remote, s.peer.mr.rkey()).build();
      case WRITE_IMM -> SendWr.builder(WrOpcode.RDMA_WRITE_WITH_IMM).wrId(id).flags(flags).immData(seq).sges(sge)
          .remote(remote, s.peer.mr.rkey()).build();
      case READ -> SendWr.builder(WrOpcode.RDMA_READ).wrId(id).flags(flags).sges(sge)
          .remote(remote, s.peer.mr.rkey()).build();
      case FETCH_ADD -> SendWr.builder(WrOpcode.ATOMIC_FETCH_AND_ADD).wrId(id).flags(flags).sges(sge)
          .remote(remote, s.peer.mr.rkey()).atomic(cmpOrAdd, 0).build();
      case CMP_SWAP -> {
        Long cur = get8(s.peer.target, off);
        long cmp = matchCmp && cur != null ? cur : cmpOrAdd;
        yield SendWr.builder(WrOpcode.ATOMIC_CMP_AND_SWP).wrId(id).flags(flags).sges(sge)
            .remote(remote, s.peer.mr.rkey()).atomic(cmp, swap).build();
      }
    };
    String what = at + ": " + s.name + " posts " + kind + " #" + id + " len " + len + (useInline ? " inline" : "")
        + (msg != null ? " seq " + seq : "") + " in " + s.state;
    try {
      s.qp.postSend(wr);
    } catch (PostException e) {
      fail(what + ": refused (" + e.reason() + ": " + e.getMessage() + ") with " + s.sq.size()
          + " outstanding of " + s.qp.cap().maxSendWr(), e);
    }
    stats[0]++;
    s.posts++;
    if (useInline) {
      for (int i = 0; i < len; i++) {
        buf.put(local + i, (byte) ~payload(kind == Kind.WRITE ? (int) id : seq, i)); // inline: copied at post
      }
    }
    Integer[] expect = null;
    switch (kind) {
      case READ -> expect = java.util.Arrays.copyOfRange(s.peer.target, off, off + len);
      case WRITE, WRITE_IMM -> {
        // UC: known only if nothing can lose it (and a WRITE_IMM has its receive)
        boolean known = type == QpType.RC || !lossy && !broken
            && (kind == Kind.WRITE || s.peer.recvsThisEpoch > s.msgsToPeerThisEpoch);
        for (int i = 0; i < len; i++) {
          s.peer.target[off + i] = known ? (int) payload(kind == Kind.WRITE ? (int) id : seq, i) : null;
        }
      }
      case FETCH_ADD, CMP_SWAP -> {
        Long cur = get8(s.peer.target, off);
        expect = new Integer[] {cur == null ? null : 0};
        if (cur != null) {
          long cmp = wr.compareAdd();
          long next = kind == Kind.FETCH_ADD ? cur + cmpOrAdd : (cur == cmp ? wr.swap() : cur);
          put8(s.peer.target, off, next);
          expect = longToBytes(cur);
        } else {
          put8(s.peer.target, off, null);
        }
      }
      default -> { }
    }
    if (msg != null) {
      s.nextSeq++;
      s.sent.put(seq, msg);
      s.msgsToPeerThisEpoch++;
      boolean credit = s.peer.recvsThisEpoch >= s.msgsToPeerThisEpoch;
      if (type != QpType.RC && !lossy && !broken && credit) {
        s.peer.mustArrive.add(seq);
      }
    }
    s.sq.addLast(new SendEntry(id, kind, (flags & SendFlags.SIGNALED) != 0, slot, len, msg, off, expect));
  }

  private static byte payload(int seq, int i) {
    if (i < 4) {
      return (byte) (seq >>> (24 - 8 * i));
    }
    int h = seq * 0x9E3779B9 + i * 0x85EBCA6B;
    return (byte) (h ^ (h >>> 13));
  }

  private void postRecvs(Side s, int n) {
    if (!IbStates.recvAllowed(modelState(s))) {
      return;
    }
    for (int i = 0; i < n && s.rq.size() < RQ; i++) {
      long id = s.nextWrId++;
      int slot = (int) (s.recvPosts++ % RQ);
      try {
        s.qp.postRecv(RecvWr.of(id, Sge.of(s.mr, RECV_AREA + (long) slot * SLOT, SLOT)));
      } catch (PostException e) {
        fail(at + ": " + s.name + " receive #" + id + " refused with " + s.rq.size() + " outstanding", e);
      }
      stats[1]++;
      s.rq.addLast(new long[] {id, slot});
      s.recvsThisEpoch++;
    }
  }

  /** Waits for everything: both in RTS, enough receives, a signaled tail, all complete and arrive. */
  private void quiesce() throws Exception {
    if (broken) {
      return;
    }
    awaitFlaps();
    for (Side s : new Side[] {a, b}) {
      if (s.state == QpState.SQD) {
        modify(s, QpState.RTS, 0, true, "back to RTS to quiesce");
      }
    }
    for (Side s : new Side[] {a, b}) {
      if (!s.sq.isEmpty() && !s.sq.peekLast().signaled) {
        if (type == QpType.UD) {
          post(s, Kind.SEND_IMM, 0, false, true, 0, 0, false, 0);
        } else {
          post(s, Kind.FENCE, 0, false, true, 0, 0, false, 0);
        }
      }
    }
    for (Side s : new Side[] {a, b}) {
      int missing = s.peer.nextSeq - s.expectNext - s.rq.size();
      postRecvs(s, Math.max(0, missing));
    }
    String what = at + ": quiesce";
    stats[8]++;
    awaitTrue(() -> what + ": everything completes and arrives; A " + pending(a) + "; B " + pending(b), () -> {
      pollAll();
      return settled(a) && settled(b);
    });
    for (Side s : new Side[] {a, b}) {
      assertEquals(QpState.RTS, s.qp.query().qpState(), what + ": " + s.name + " is still in RTS");
      if (type == QpType.RC) {
        assertEquals(s.peer.nextSeq, s.expectNext, what + ": " + s.name + " received every message");
      }
      if (type == QpType.RC) {
        checkTarget(s, what);
      } else if (type == QpType.UC) {
        awaitTrue(() -> what + ": UC WRITEs land on " + s.name + ": " + targetMatches(s) + "; epoch " + epoch
            + ", lossy " + lossy, () -> targetMatches(s) == null);
      }
    }
  }

  private String pending(Side s) {
    return "sq " + s.sq + ", rq " + s.rq.size() + " receives, expects seq " + s.expectNext + " of "
        + s.peer.nextSeq + ", must still arrive " + s.mustArrive;
  }

  private boolean settled(Side s) {
    if (!s.sq.isEmpty()) {
      return false;
    }
    if (type == QpType.RC) {
      return s.expectNext == s.peer.nextSeq;
    }
    return s.mustArrive.isEmpty();
  }

  private void checkTarget(Side s, String what) {
    stats[15]++;
    String diff = targetMatches(s);
    if (diff != null) {
      fail(what + ": " + s.name + "'s region differs from the memory model: " + diff);
    }
  }

  private String targetMatches(Side s) {
    ByteBuffer buf = s.mr.buffer();
    for (int i = 0; i < TARGET_LEN; i++) {
      Integer m = s.target[i];
      if (m != null && (byte) (int) m != buf.get(TARGET + i)) {
        return "byte " + i + " is " + buf.get(TARGET + i) + ", the model says " + (byte) (int) m;
      }
    }
    return null;
  }

  private void toErr(Side s) throws Exception {
    if (s.state == QpState.RESET) {
      return;
    }
    s.flushAllowed = true;
    s.peer.retryExcAllowed = type == QpType.RC;
    if (type == QpType.RC) {
      s.peer.state = s.peer.state == QpState.ERR ? QpState.ERR : null; // it may time out into ERR by itself
    }
    broken = true;
    unknownInFlight(s);
    unknownInFlight(s.peer);
    modify(s, QpState.ERR, 0, true, "to ERR");
  }

  private void sqdOrRts(Side s) throws Exception {
    boolean rtsToRts = g.chance(0.3);
    if (s.state == QpState.RTS) {
      modify(s, rtsToRts ? QpState.RTS : QpState.SQD, 0, true, rtsToRts ? "RTS to RTS" : "RTS to SQD");
    } else if (s.state == QpState.SQD) {
      modify(s, rtsToRts ? QpState.SQD : QpState.RTS, 0, true, rtsToRts ? "SQD to SQD" : "SQD to RTS");
    }
  }

  private void illegalModify(Side s) throws Exception {
    QpState target = g.pick(QpState.values());
    boolean forbiddenBit = g.chance(0.5);
    QpState from = s.state;
    if (from == null) {
      return; // RTS or ERR: cannot predict
    }
    if (IbStates.legal(type, from, target)) {
      if (!forbiddenBit) {
        return; // legal and well-formed: not this operation
      }
      modify(s, target, IbStates.forbiddenBit(type, from, target), false, "with a forbidden attribute");
    } else {
      modify(s, target, 0, false, "an illegal transition");
    }
  }

  /** A modify the model predicts: accepted (the state after is {@code to}) or refused (nothing changes). */
  private void modify(Side s, QpState to, int extraMask, boolean accept, String why) throws Exception {
    QpState from = s.state;
    String what = at + ": " + s.name + " modify " + from + " -> " + to + " (" + why + ")";
    QpAttr attr = QpAttr.builder().qpState(to).destQpNum(s.peer.qp.qpNum()).sqPsn(1).build();
    int mask = QpAttrMask.STATE | extraMask;
    if (accept) {
      await(s.qp.modify(attr, mask));
      s.state = to;
      if (to != QpState.ERR) {
        assertEquals(to, s.qp.query().qpState(), what + ": query().qpState()");
      }
    } else {
      stats[4]++;
      QpAttr before = s.qp.query();
      try {
        Await.failure(MidlayerTestKit.DEFAULT_TIMEOUT, s.qp.modify(attr, mask), InvalidArgumentException.class);
      } catch (AssertionError e) {
        throw new AssertionError(what + ": expected a typed refusal: " + e.getMessage(), e);
      }
      QpAttr after = s.qp.query();
      assertEquals(before.qpState(), after.qpState(), what + ": a refused modify changes no state");
      assertEquals(before.destQpNum(), after.destQpNum(), what + ": a refused modify changes no attribute");
      assertEquals(before.portNum(), after.portNum(), what + ": a refused modify changes no attribute");
      assertEquals(before.pathMtu(), after.pathMtu(), what + ": a refused modify changes no attribute");
    }
  }

  private void faults() {
    int kind = g.weighted(2, 3, 3);
    long seed = g.nextLong();
    double pd = g.uniform(0.01, 0.1);
    double pa = g.uniform(0.0, 0.1);
    double pdup = g.uniform(0.0, 0.1);
    double pro = g.uniform(0.0, 0.1);
    double pde = g.uniform(0.0, 0.1);
    if (kind == 0) {
      kit.fabric().clearFaults();
      return;
    }
    FaultPlan.Match any = FaultPlan.Match.any();
    FaultPlan.Builder p = FaultPlan.builder(seed).drop(any.data(), pd).drop(any.kinds(PacketKind.ACK, PacketKind.NAK), pa);
    if (kind == 2) {
      p.duplicate(any, pdup).reorder(any, pro).delay(any, pde, Duration.ofMillis(g.between(1, 5)));
      unordered = true;
      duplicates = true;
    }
    kit.fabric().faults(p.build());
    stats[6]++;
    becomeLossy();
  }

  private void flap(Side s) {
    int downMs = g.between(1, 5);
    flaps.add(s.dev.flap(1, Duration.ofSeconds(downMs))); // seconds of IB time: milliseconds here
    stats[7]++;
    becomeLossy();
  }

  private void awaitFlaps() {
    for (CompletionStage<Done> f : flaps) {
      await(f);
    }
    flaps.clear();
  }

  /** From now until the next reconnect, UC and UD may lose what is in flight and what is sent. */
  private void becomeLossy() {
    lossy = true;
    a.mustArrive.clear();
    b.mustArrive.clear();
    if (type == QpType.UC) {
      unknownInFlight(a);
      unknownInFlight(b);
    }
  }

  /** The peer's bytes that {@code s}'s outstanding WRITEs and atomics touch are no longer known. */
  private void unknownInFlight(Side s) {
    for (SendEntry e : s.sq) {
      if (e.kind == Kind.WRITE || e.kind == Kind.WRITE_IMM || e.kind == Kind.FETCH_ADD || e.kind == Kind.CMP_SWAP) {
        for (int i = 0; i < e.len; i++) {
          s.peer.target[e.remoteOff + i] = null;
        }
      }
    }
  }

  // ---------------------------------------------------------------- connecting, draining

  private void newEpochFaults() {
    lossy = kit.fabric().faultPlan() != null;
    unordered = lossy && unordered;
    duplicates = lossy && duplicates;
  }

  private void connect() throws Exception {
    String what = at + ": connect";
    epoch++;
    int psnA = g.below(1 << 24);
    int psnB = g.below(1 << 24);
    for (Side s : new Side[] {a, b}) {
      ByteBuffer buf = s.mr.buffer();
      for (int i = 0; i < TARGET_LEN; i++) {
        byte v = (byte) g.nextInt();
        buf.put(TARGET + i, v);
        s.target[i] = (int) v;
      }
      s.sqError = false;
      s.rqError = false;
      s.flushAllowed = false;
      s.retryExcAllowed = false;
      s.recvsThisEpoch = 0;
      s.msgsToPeerThisEpoch = 0;
      s.mustArrive.clear();
    }
    QpConnect.Params params = new QpConnect.Params(1, QpConnect.Params.defaults().accessFlags(), mtu, 24, 7, 7, 1,
        4, 4);
    if (type == QpType.UD) {
      await(QpConnect.ud(a.qp, 1, QKEY, psnA));
      await(QpConnect.ud(b.qp, 1, QKEY, psnB));
    } else {
      await(QpConnect.connect(a.qp, AhAttr.ofLid(1, devB.lid(1)), b.qp.qpNum(), psnA, psnB, params));
      await(QpConnect.connect(b.qp, AhAttr.ofLid(1, devA.lid(1)), a.qp.qpNum(), psnB, psnA, params));
    }
    for (Side s : new Side[] {a, b}) {
      s.state = QpState.RTS;
      QpAttr q = s.qp.query();
      assertEquals(QpState.RTS, q.qpState(), what + ": " + s.name + " in RTS");
      if (type != QpType.UD) {
        assertEquals(s.peer.qp.qpNum(), q.destQpNum(), what + ": " + s.name + "'s remote QP");
      } else {
        assertEquals(QKEY, q.qkey(), what + ": " + s.name + "'s Q_Key");
      }
    }
    broken = false;
  }

  private void createQp(Side s) throws Exception {
    s.qp = await(s.pd.createQp(new QpInitAttr(type, s.scq, s.rcq, new QpCap(SQ, RQ, 1, 1, MAX_INLINE), false,
        null, null)));
    s.state = QpState.RESET;
  }

  private void reconnect() throws Exception {
    drainBoth();
    awaitFlaps();
    // Packets a delaying or reordering plan holds are not recalled (they ride the scheduler, whose tick is
    // coarser than the scaled delay), and UC/UD take a first packet at any PSN: a stale one could reach the
    // reconnected QP. So after such an epoch the connection gets new QPs (QP numbers are never reused), as a
    // ULP would; otherwise the same QPs go through RESET.
    boolean fresh = unordered || duplicates;
    newEpochFaults();
    for (Side s : new Side[] {a, b}) {
      if (fresh) {
        await(s.qp.destroy());
        createQp(s);
      } else {
        modify(s, QpState.RESET, 0, true, "reconnect");
      }
    }
    connect();
    stats[5]++;
  }

  /** Both to ERR, then every outstanding WR must complete; then the RC rule: what succeeded was received. */
  private void drainBoth() throws Exception {
    for (Side s : new Side[] {a, b}) {
      unknownInFlight(s);
      s.flushAllowed = true;
      s.retryExcAllowed = type == QpType.RC;
    }
    for (Side s : new Side[] {a, b}) {
      if (s.state != QpState.RESET) {
        modify(s, QpState.ERR, 0, true, "drain");
        if (!s.sq.isEmpty() && !s.sq.peekLast().signaled) {
          // As ib_drain_sq: a signaled marker, flushed after every earlier WR has been reported, so that
          // unsignaled WRs that finished before the ERR (they have no completion) are known to be done.
          post(s, type == QpType.UD ? Kind.SEND_IMM : Kind.FENCE, 0, false, true, 0, 0, false, 0);
        }
      }
    }
    broken = true;
    String what = at + ": drain";
    awaitTrue(() -> what + ": every WR completes; A sq " + a.sq + " rq " + a.rq.size() + "; B sq " + b.sq + " rq "
        + b.rq.size(), () -> {
          pollAll();
          return a.sq.isEmpty() && a.rq.isEmpty() && b.sq.isEmpty() && b.rq.isEmpty();
        });
    for (Side s : new Side[] {a, b}) {
      if (type == QpType.RC) {
        for (int seq : s.peer.acked) {
          if (seq >= s.expectNext) {
            fail(what + ": RC message " + seq + " from " + s.peer.name + " completed SUCCESS at the sender but "
                + s.name + " never received it (received up to " + (s.expectNext - 1) + ")");
          }
        }
      }
      s.peer.acked.clear();
      s.expectNext = s.peer.nextSeq; // the rest of this epoch's messages will never arrive
    }
  }

  // ---------------------------------------------------------------- completions

  private void pollAll() {
    WorkCompletion[] batch = new WorkCompletion[16];
    for (Side s : new Side[] {a, b}) {
      int k;
      while ((k = s.scq.poll(batch)) > 0) {
        for (int i = 0; i < k; i++) {
          sendCompletion(s, batch[i]);
        }
      }
      while ((k = s.rcq.poll(batch)) > 0) {
        for (int i = 0; i < k; i++) {
          recvCompletion(s, batch[i]);
        }
      }
    }
  }

  private void sendCompletion(Side s, WorkCompletion wc) {
    stats[2]++;
    String what = at + ": " + s.name + " send completion " + wc;
    while (true) {
      SendEntry head = s.sq.pollFirst();
      if (head == null) {
        fail(what + ": no such WR outstanding (a duplicate, or never posted)");
      }
      if (head.wrId == wc.wrId()) {
        if (wc.status() == WcStatus.SUCCESS) {
          if (s.sqError) {
            fail(what + ": SUCCESS after an error on the same send queue");
          }
          succeeded(s, head, wc, what);
        } else {
          failed(s, head, wc, what);
        }
        return;
      }
      if (head.signaled || s.sqError) {
        fail(what + ": the oldest outstanding WR " + head + " has not completed: completions out of posting order, "
            + "or one missing (after an error every WR completes)");
      }
      succeeded(s, head, null, what + " (implied for the unsignaled " + head + " before it)");
    }
  }

  private void succeeded(Side s, SendEntry e, WorkCompletion wc, String what) {
    stats[wc != null ? 9 : 10]++;
    if (wc != null) {
      WcOpcode op = switch (e.kind) {
        case SEND, SEND_IMM -> WcOpcode.SEND;
        case WRITE, WRITE_IMM, FENCE -> WcOpcode.RDMA_WRITE;
        case READ -> WcOpcode.RDMA_READ;
        case FETCH_ADD -> WcOpcode.FETCH_ADD;
        case CMP_SWAP -> WcOpcode.COMP_SWAP;
      };
      assertEquals(op, wc.opcode(), what + ": the opcode of " + e);
      assertEquals(s.qp.qpNum(), wc.qpNum(), what + ": qp_num");
    }
    ByteBuffer buf = s.mr.buffer();
    int local = SEND_AREA + e.slot * SLOT;
    if (e.kind == Kind.READ) {
      stats[13]++;
      for (int i = 0; i < e.len; i++) {
        if (e.expect[i] != null && buf.get(local + i) != (byte) (int) e.expect[i]) {
          fail(what + ": READ " + e + " byte " + i + " (remote offset " + (e.remoteOff + i) + ") is "
              + buf.get(local + i) + ", the memory model says " + (byte) (int) e.expect[i]);
        }
      }
    } else if ((e.kind == Kind.FETCH_ADD || e.kind == Kind.CMP_SWAP) && e.expect.length == 8) {
      stats[14]++;
      long want = bytesToLong(e.expect);
      assertEquals(want, buf.getLong(local), what + ": " + e + " returns the original value of remote offset "
          + e.remoteOff);
    }
    if (e.msg != null) {
      s.acked.add(e.msg.seq());
    }
  }

  private void failed(Side s, SendEntry e, WorkCompletion wc, String what) {
    stats[wc.status() == WcStatus.WR_FLUSH_ERR ? 11 : 12]++;
    if (!s.sqError) {
      s.sqError = true;
      boolean allowed = wc.status() == WcStatus.WR_FLUSH_ERR ? s.flushAllowed || s.retryExcAllowed
          : wc.status() == WcStatus.RETRY_EXC_ERR && s.retryExcAllowed;
      if (!allowed) {
        fail(what + ": the first error of the send queue, " + wc.status() + ", is not one the model allows "
            + "(flush allowed " + s.flushAllowed + ", retry exceeded allowed " + s.retryExcAllowed + ")");
      }
      if (wc.status() != WcStatus.WR_FLUSH_ERR) {
        s.state = QpState.ERR;
        s.flushAllowed = true;
      }
      unknownInFlight(s);
      // what is still outstanding may have executed at the peer before the error
      if (e.kind == Kind.WRITE || e.kind == Kind.WRITE_IMM || e.kind == Kind.FETCH_ADD || e.kind == Kind.CMP_SWAP) {
        for (int i = 0; i < e.len; i++) {
          s.peer.target[e.remoteOff + i] = null;
        }
      }
    } else if (wc.status() != WcStatus.WR_FLUSH_ERR) {
      fail(what + ": after the first error only WR_FLUSH_ERR may follow");
    }
    if (e.kind == Kind.WRITE || e.kind == Kind.WRITE_IMM || e.kind == Kind.FETCH_ADD || e.kind == Kind.CMP_SWAP) {
      for (int i = 0; i < e.len; i++) {
        s.peer.target[e.remoteOff + i] = null;
      }
    }
  }

  private void recvCompletion(Side s, WorkCompletion wc) {
    stats[2]++;
    String what = at + ": " + s.name + " receive completion " + wc;
    long[] head = s.rq.pollFirst();
    if (head == null || head[0] != wc.wrId()) {
      fail(what + ": the oldest outstanding receive is " + (head == null ? "none" : "#" + head[0])
          + ": out of posting order, a duplicate or never posted");
    }
    if (wc.status() != WcStatus.SUCCESS) {
      if (wc.status() != WcStatus.WR_FLUSH_ERR || !(s.flushAllowed || s.state == null || s.state == QpState.ERR)) {
        fail(what + ": a receive error the model does not allow (flush allowed " + s.flushAllowed + ")");
      }
      s.rqError = true;
      return;
    }
    if (s.rqError) {
      fail(what + ": SUCCESS after a flush on the same receive queue");
    }
    boolean withImm = (wc.wcFlags() & WcFlags.WITH_IMM) != 0;
    int off = type == QpType.UD ? GRH : 0;
    int base = RECV_AREA + (int) head[1] * SLOT + off;
    ByteBuffer buf = s.mr.buffer();
    int seq;
    if (type == QpType.RC) {
      seq = s.expectNext;
    } else if (withImm) {
      seq = wc.immData();
    } else if (wc.byteLen() >= off + 4) {
      seq = buf.getInt(base);
    } else {
      seq = fail(what + ": a UC/UD message without an immediate and shorter than four bytes: none was sent");
    }
    Msg m = s.peer.sent.get(seq);
    if (m == null || m.seq() >= s.peer.nextSeq) {
      fail(what + ": message " + seq + " was never sent by " + s.peer.name);
    }
    if (type == QpType.RC || !unordered) {
      if (seq < s.expectNext) {
        fail(what + ": message " + seq + " arrives after message " + (s.expectNext - 1) + (type == QpType.RC
            ? "" : " (a UC/UD link that neither reorders nor duplicates delivers a subsequence in order)"));
      }
    }
    if (!duplicates && !s.received.add(seq) && type != QpType.RC) {
      fail(what + ": message " + seq + " arrives twice without a duplicating fault");
    }
    boolean expImm = m.kind() != Kind.SEND;
    assertEquals(expImm, withImm, what + ": message " + seq + " (" + m.kind() + ") carries an immediate");
    if (expImm) {
      assertEquals(seq, wc.immData(), what + ": the immediate of message " + seq);
    }
    assertEquals(m.kind() == Kind.WRITE_IMM ? WcOpcode.RECV_RDMA_WITH_IMM : WcOpcode.RECV, wc.opcode(),
        what + ": opcode of message " + seq + " (" + m.kind() + ")");
    // A UD receive's byte_len counts the 40-byte GRH area too (IBA 11.4.2.1), as libibverbs providers do.
    assertEquals(m.len() + off, wc.byteLen(), what + ": byte_len of message " + seq + " (" + m.kind() + ")");
    if (m.kind() != Kind.WRITE_IMM) {
      for (int i = 0; i < m.len(); i++) {
        byte want = payload(seq, i);
        if (buf.get(base + i) != want) {
          fail(what + ": message " + seq + " (" + m.kind() + ", " + m.len() + " bytes) byte " + i + " is "
              + buf.get(base + i) + ", expected " + want);
        }
      }
    }
    stats[3]++;
    s.expectNext = Math.max(s.expectNext, seq + 1);
    s.mustArrive.remove(seq);
    if (type != QpType.RC && !s.mustArrive.isEmpty() && s.mustArrive.iterator().next() < seq && !unordered) {
      fail(what + ": message " + s.mustArrive.iterator().next() + " was sent over a lossless link to a receive "
          + "and a later one arrived, but it did not");
    }
  }

  // ---------------------------------------------------------------- bytes

  private static Long get8(Integer[] t, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      if (t[off + i] == null) {
        return null;
      }
      v = v << 8 | (t[off + i] & 0xFF);
    }
    return v;
  }

  private static void put8(Integer[] t, int off, Long v) {
    for (int i = 0; i < 8; i++) {
      t[off + i] = v == null ? null : (int) (byte) (v >>> (56 - 8 * i));
    }
  }

  private static Integer[] longToBytes(long v) {
    Integer[] out = new Integer[8];
    for (int i = 0; i < 8; i++) {
      out[i] = (int) (byte) (v >>> (56 - 8 * i));
    }
    return out;
  }

  private static long bytesToLong(Integer[] b) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = v << 8 | (b[i] & 0xFF);
    }
    return v;
  }
}
