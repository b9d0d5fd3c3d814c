package dev.midlayer.drivers.cluster;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.DriverDevice;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;

/**
 * A QP as far as the transport layer needs one (the engine is not here yet): its number, type, PD, device (the
 * real {@link DriverDevice} of a registered cluster device, whose keys the wire resolves) and AV. The queue
 * methods are not used by the layer and throw.
 */
final class StubQp implements QpContext {
  private final int qpn;
  private final QpType type;
  private final int pd;
  private final DriverDevice device;
  private volatile QpAttr attr;

  StubQp(int qpn, QpType type, int pd, DriverDevice device) {
    this.qpn = qpn;
    this.type = type;
    this.pd = pd;
    this.device = device;
    this.attr = QpAttr.builder().qpState(QpState.RTS).build();
  }

  /** RC/UC: the AV to {@code ah}, the peer QP and the path MTU. */
  StubQp connect(AhAttr ah, int destQpn, Mtu mtu) {
    attr = QpAttr.builder().qpState(QpState.RTS).ahAttr(ah).destQpNum(destQpn).pathMtu(mtu).build();
    return this;
  }

  @Override public int qpNum() { return qpn; }
  @Override public QpType type() { return type; }
  @Override public int pdHandle() { return pd; }
  @Override public DriverDevice device() { return device; }
  @Override public DriverQp driver() { return null; }
  @Override public QpState state() { return attr.qpState(); }
  @Override public QpAttr attributes() { return attr; }
  @Override public boolean signaled(SendWqe wqe) { return true; }
  @Override public WorkQueue<SendWqe> sendQueue() { throw new UnsupportedOperationException(); }
  @Override public WorkQueue<RecvWqe> recvQueue() { throw new UnsupportedOperationException(); }
  @Override public boolean hasSrq() { return false; }
  @Override public RecvWqe takeRecv() { throw new UnsupportedOperationException(); }
  @Override public boolean completeSend(SendWqe wqe, WcStatus status) { throw new UnsupportedOperationException(); }
  @Override public void finishUnsignaled(int count) { throw new UnsupportedOperationException(); }

  @Override
  public boolean completeRecv(RecvWqe wqe, WcOpcode opcode, int byteLen, int srcQp, int slid, int wcFlags,
      int immData, int invalidatedRkey, boolean solicited) {
    throw new UnsupportedOperationException();
  }

  @Override public boolean completeRecvError(RecvWqe wqe, WcStatus status) { throw new UnsupportedOperationException(); }
  @Override public MemoryOpResult executeLocal(SendWqe wqe) { throw new UnsupportedOperationException(); }
  @Override public void reset() { throw new UnsupportedOperationException(); }
  @Override public boolean moveToError() { return false; }
  @Override public boolean moveToSqError() { return false; }
  @Override public void raiseEvent(AsyncEventType type) {}

  /** A posted send WR with a gather list (or inline data), as the midlayer would hand it over. */
  record Wr(WrOpcode opcode, long[] addrs, int[] lengths, int[] lkeys, byte[] inlineData) implements SendWqe {
    static Wr gather(WrOpcode op, long addr, int length, int lkey) {
      return new Wr(op, new long[] {addr}, new int[] {length}, new int[] {lkey}, null);
    }

    static Wr inline(WrOpcode op, byte[] data) {
      return new Wr(op, new long[0], new int[0], new int[0], data);
    }

    @Override public int sgeCount() { return addrs.length; }
    @Override public long sgeAddr(int i) { return addrs[i]; }
    @Override public int sgeLength(int i) { return lengths[i]; }
    @Override public int sgeLkey(int i) { return lkeys[i]; }
    @Override public long wrId() { return 1; }
    @Override public int flags() { return 0; }

    @Override
    public long length() {
      if (inlineData != null) {
        return inlineData.length;
      }
      long n = 0;
      for (int l : lengths) {
        n += l;
      }
      return n;
    }

    @Override public int immData() { return 0; }
    @Override public long remoteAddr() { return 0; }
    @Override public int rkey() { return 0; }
    @Override public long compareAdd() { return 0; }
    @Override public long swap() { return 0; }
    @Override public int invalidateRkey() { return 0; }
    @Override public AhAttr ah() { return null; }
    @Override public int remoteQpn() { return 0; }
    @Override public int remoteQkey() { return 0; }
    @Override public int regKey() { return 0; }
    @Override public int regAccess() { return 0; }
  }
}
