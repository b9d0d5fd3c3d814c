package dev.midlayer.testkit;

import static dev.midlayer.testkit.MidlayerTestKit.await;

import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Two QPs of one type (RC, UC or UD) on two loopback devices, each with its PD, its CQ (for both queues) and a
 * registered buffer, connected to each other in one call: what a ULP test needs before its first post.
 *
 * <pre>{@code
 * try (ConnectedPair p = ConnectedPair.rc(kit).build()) {
 *   p.b().qp().postRecv(RecvWr.of(1, Sge.of(p.b().mr(), 0, 64)));
 *   p.a().qp().postSend(SendWr.send(1, SendFlags.SIGNALED, Sge.of(p.a().mr(), 0, 64)));
 * }
 * }</pre>
 *
 * <p>Defaults: RC/UC connected with {@link QpConnect.Params#defaults()} and PSNs 100 (a's first send) and 200
 * (b's), UD in RTS with Q_Key {@link #DEFAULT_QKEY} and an address handle each way; {@code QpCap(16, 16, 1, 1, 0)};
 * CQs of 64 entries without a handler (the test polls); 64 KiB direct buffers with local write and every remote
 * access; every WR signaled. Each can be changed on the {@link Builder}. The objects belong to no client:
 * {@link #close()} destroys them (and the devices the pair added), else {@link MidlayerTestKit#shutdown()}
 * reports them as leftovers. The builder and {@code close} may sleep: call them from the test's thread.
 */
public final class ConnectedPair implements AutoCloseable {
  /** The Q_Key both UD QPs use unless {@link Builder#qkey} says otherwise. */
  public static final int DEFAULT_QKEY = 0x11111111;

  /** One side: its device, PD, CQ (send and receive), QP, registered buffer and, for UD, an AH to the other. */
  public record Side(LoopbackDevice device, ProtectionDomain pd, CompletionQueue cq, QueuePair qp, MemoryRegion mr,
      AddressHandle ahToPeer) {}

  private final MidlayerTestKit kit;
  private final Side a;
  private final Side b;
  private final int qkey;
  private final QpConnect.Params params;
  private final int[] sqPsn;
  private final boolean ownDevices;
  private boolean closed;

  private ConnectedPair(MidlayerTestKit kit, Side a, Side b, int qkey, QpConnect.Params params, int[] sqPsn,
      boolean ownDevices) {
    this.kit = kit;
    this.a = a;
    this.b = b;
    this.qkey = qkey;
    this.params = params;
    this.sqPsn = sqPsn;
    this.ownDevices = ownDevices;
  }

  /** A builder for an RC pair. */
  public static Builder rc(MidlayerTestKit kit) {
    return new Builder(kit, QpType.RC);
  }

  /** A builder for a UC pair. */
  public static Builder uc(MidlayerTestKit kit) {
    return new Builder(kit, QpType.UC);
  }

  /** A builder for a UD pair (each side has an address handle to the other: {@link Side#ahToPeer()}). */
  public static Builder ud(MidlayerTestKit kit) {
    return new Builder(kit, QpType.UD);
  }

  /** The side that sends first in the examples. */
  public Side a() {
    return a;
  }

  /** The other side. */
  public Side b() {
    return b;
  }

  /** The Q_Key of a UD pair. */
  public int qkey() {
    return qkey;
  }

  /**
   * Moves both QPs of a pair built with {@link Builder#leaveInRtr()} from RTR to RTS. May sleep: test thread.
   */
  public void toRts() {
    await(QpConnect.toRts(a.qp(), sqPsn[0], params));
    await(QpConnect.toRts(b.qp(), sqPsn[1], params));
  }

  /** Destroys both sides (QP, AH, MR, CQ, PD) and removes the devices the pair added. May sleep: test thread. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Side s : new Side[] {a, b}) {
      await(s.qp().destroy());
      if (s.ahToPeer() != null) {
        s.ahToPeer().destroy();
      }
      await(s.mr().deregister());
      await(s.cq().destroy());
      await(s.pd().dealloc());
    }
    if (ownDevices) {
      kit.removeDevice(a.device());
      kit.removeDevice(b.device());
    }
  }

  /** Builds a {@link ConnectedPair}. Not thread-safe; {@link #build()} may sleep. */
  public static final class Builder {
    private final MidlayerTestKit kit;
    private final QpType type;
    private LoopbackDevice deviceA;
    private LoopbackDevice deviceB;
    private QpCap cap = new QpCap(16, 16, 1, 1, 0);
    private int cqEntries = 64;
    private CompletionHandler handlerA;
    private CompletionHandler handlerB;
    private int bufferBytes = 64 * 1024;
    private int access = AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_READ
        | AccessFlags.REMOTE_ATOMIC;
    private boolean signalAll = true;
    private int sqPsnA = 100;
    private int sqPsnB = 200;
    private QpConnect.Params params = QpConnect.Params.defaults();
    private int qkey = DEFAULT_QKEY;
    private boolean leaveInRtr;

    private Builder(MidlayerTestKit kit, QpType type) {
      this.kit = Objects.requireNonNull(kit, "kit");
      this.type = type;
    }

    /** Uses these devices (port {@link QpConnect.Params#portNum()} of each) instead of adding two. */
    public Builder devices(LoopbackDevice a, LoopbackDevice b) {
      this.deviceA = Objects.requireNonNull(a, "a");
      this.deviceB = Objects.requireNonNull(b, "b");
      return this;
    }

    /** The QPs' capabilities (queue depths, SGEs, inline data). */
    public Builder cap(QpCap cap) {
      this.cap = Objects.requireNonNull(cap, "cap");
      return this;
    }

    /** Entries of each side's CQ. */
    public Builder cqEntries(int cqEntries) {
      this.cqEntries = cqEntries;
      return this;
    }

    /** Completion handlers of a's and b's CQ (null: none, the test polls); a CQ with one is armed (NEXT_COMP). */
    public Builder completionHandlers(CompletionHandler a, CompletionHandler b) {
      this.handlerA = a;
      this.handlerB = b;
      return this;
    }

    /** Size of each side's registered buffer, and its access flags. */
    public Builder buffer(int bytes, int accessFlags) {
      this.bufferBytes = bytes;
      this.access = accessFlags;
      return this;
    }

    /** Whether every send WR completes (true) or only those posted SIGNALED. */
    public Builder signalAll(boolean signalAll) {
      this.signalAll = signalAll;
      return this;
    }

    /** The first PSN each side sends (the other side expects it). */
    public Builder psns(int sqPsnA, int sqPsnB) {
      this.sqPsnA = sqPsnA;
      this.sqPsnB = sqPsnB;
      return this;
    }

    /** Transport parameters of RC/UC (port, MTU, timeouts, retries, access of remote operations). */
    public Builder params(QpConnect.Params params) {
      this.params = Objects.requireNonNull(params, "params");
      return this;
    }

    /** The Q_Key of a UD pair. */
    public Builder qkey(int qkey) {
      this.qkey = qkey;
      return this;
    }

    /** Leaves RC/UC QPs in RTR (they receive, but may not send until {@link ConnectedPair#toRts()}). */
    public Builder leaveInRtr() {
      this.leaveInRtr = true;
      return this;
    }

    /** Makes the objects and connects them. May sleep: test thread. */
    public ConnectedPair build() {
      if (leaveInRtr && type == QpType.UD) {
        throw new IllegalArgumentException("leaveInRtr is for RC and UC pairs; a UD pair goes to RTS");
      }
      boolean own = deviceA == null;
      LoopbackDevice da = own ? kit.addDevice("lo%d", 1) : deviceA;
      LoopbackDevice db = own ? kit.addDevice("lo%d", 1) : deviceB;
      Side sa = side(da, handlerA);
      Side sb = side(db, handlerB);
      int port = params.portNum();
      if (type == QpType.UD) {
        await(QpConnect.ud(sa.qp(), port, qkey, sqPsnA));
        await(QpConnect.ud(sb.qp(), port, qkey, sqPsnB));
        sa = withAh(sa, db);
        sb = withAh(sb, da);
      } else {
        await(QpConnect.toRtr(sa.qp(), AhAttr.ofLid(port, db.lid(port)), sb.qp().qpNum(), sqPsnB, params));
        await(QpConnect.toRtr(sb.qp(), AhAttr.ofLid(port, da.lid(port)), sa.qp().qpNum(), sqPsnA, params));
      }
      ConnectedPair pair = new ConnectedPair(kit, sa, sb, qkey, params, new int[] {sqPsnA, sqPsnB}, own);
      if (type != QpType.UD && !leaveInRtr) {
        pair.toRts();
      }
      return pair;
    }

    private Side side(LoopbackDevice device, CompletionHandler handler) {
      ProtectionDomain pd = await(device.device().allocPd());
      CompletionQueue cq = await(device.device().createCq(cqEntries, handler, null, null));
      if (handler != null) {
        cq.requestNotify(CqNotify.NEXT_COMP, false); // armed, so the first completion calls the handler
      }
      QueuePair qp = await(pd.createQp(new QpInitAttr(type, cq, cq, cap, signalAll, null, null)));
      MemoryRegion mr = await(pd.registerMr(ByteBuffer.allocateDirect(bufferBytes), access));
      return new Side(device, pd, cq, qp, mr, null);
    }

    private Side withAh(Side s, LoopbackDevice peer) {
      int port = params.portNum();
      AddressHandle ah = s.pd().createAh(AhAttr.ofLid(port, peer.lid(port)));
      return new Side(s.device(), s.pd(), s.cq(), s.qp(), s.mr(), ah);
    }
  }

  /**
   * An address of port {@code port} of {@code d}: by LID on an InfiniBand port, by its GID at index 0 (with a
   * GRH) on an Ethernet (RoCE-like) port such as the cluster driver's. Never blocks (the port cache).
   */
  public static AhAttr pathTo(dev.midlayer.device.Device d, int port) {
    var attrs = d.cachedPort(port);
    return attrs.linkLayer() == dev.midlayer.ib.LinkLayer.ETHERNET ? AhAttr.ofGid(port, attrs.gids().get(0))
        : AhAttr.ofLid(port, attrs.lid());
  }
}
