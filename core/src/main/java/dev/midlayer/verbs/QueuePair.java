package dev.midlayer.verbs;

import dev.midlayer.context.AtomicContext;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpStateTable;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverOp;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.MissingDriverOpException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;

/**
 * A queue pair ({@code struct ib_qp}): a send queue and a receive queue, a transport type, a state, and
 * attributes. Created with {@link ProtectionDomain#createQp}. The midlayer owns the work queues (bounded
 * lock-free rings), the state machine ({@link QpStateTable}) and the checks of every post; the driver
 * executes the work and produces the completions.
 *
 * <p>Threading: {@link #postSend} and {@link #postRecv} are <b>synchronous, never block, and may be called
 * from any thread and any context, concurrently</b> (callbacks included); they never call back into the
 * caller. {@link #modify} and {@link #destroy} <b>may sleep</b> (not from atomic context). Getters never
 * block.
 */
public final class QueuePair implements DeviceResource {
  private final ProtectionDomain pd;
  private final QpType type;
  private final int qpNum;
  private final CompletionQueue sendCq;
  private final CompletionQueue recvCq;
  private final SharedReceiveQueue srq;
  private final QpCap cap;
  private final boolean signalAll;
  private final EventHandler eventHandler;
  private final Object context;
  private final WorkQueue<Object> sq;
  private final WorkQueue<RecvWr> rq;
  private final AtomicReference<QpState> state = new AtomicReference<>(QpState.RESET);
  private volatile QpAttr attr = QpAttr.builder().qpState(QpState.RESET).build();
  private volatile boolean destroyed;
  private final String eventCallbackName;
  private DriverQp driver;

  private QueuePair(ProtectionDomain pd, int qpNum, QpInitAttr init, QpCap cap) {
    this.pd = pd;
    this.type = init.type();
    this.qpNum = qpNum;
    this.sendCq = init.sendCq();
    this.recvCq = init.recvCq();
    this.srq = init.srq();
    this.cap = cap;
    this.signalAll = init.signalAll();
    this.eventHandler = init.eventHandler();
    this.context = init.context();
    this.sq = new WorkQueue<>(cap.maxSendWr());
    this.rq = new WorkQueue<>(Math.max(1, cap.maxRecvWr()));
    this.eventCallbackName = "event handler of QP " + qpNum + " on " + pd.device().name();
  }

  /** Internal: use {@link ProtectionDomain#createQp}. */
  static CompletionStage<QueuePair> create(ProtectionDomain pd, QpInitAttr init) {
    Device device = pd.device();
    InvalidArgumentException.requireNonNull(init, "init");
    InvalidArgumentException.requireNonNull(init.type(), "init.type");
    InvalidArgumentException.requireNonNull(init.sendCq(), "init.sendCq");
    InvalidArgumentException.requireNonNull(init.recvCq(), "init.recvCq");
    InvalidArgumentException.requireNonNull(init.cap(), "init.cap");
    if (init.sendCq().device() != device || init.recvCq().device() != device) {
      throw new InvalidArgumentException("init.sendCq/recvCq", "CQs must be on " + device.name());
    }
    if (init.srq() != null && init.srq().pd() != pd) {
      throw new InvalidArgumentException("init.srq", init.srq() + " is of " + init.srq().pd() + ", not " + pd);
    }
    QpCap cap = checkCap(device, init.cap(), init.srq() != null);
    DeviceOps ops = DeviceResources.ops(device);
    if (ops.createQp() == null) {
      throw new MissingDriverOpException(ops.driverName(), List.of(DriverOp.CREATE_QP));
    }
    return DeviceResources.create(device, "createQp", spawner -> {
      DeviceVerbs verbs = DeviceVerbs.of(device);
      pd.retain(); // fails if the PD was deallocated meanwhile
      QueuePair qp = new QueuePair(pd, verbs.nextQpNumber(), init, cap);
      try {
        qp.driver = ops.createQp().createQp(qp, spawner);
      } catch (Exception e) {
        pd.release();
        throw e;
      }
      qp.sendCq.attach(qp);
      qp.recvCq.attach(qp);
      if (qp.srq != null) {
        qp.srq.attach();
      }
      verbs.addQp(qp);
      return qp;
    });
  }

  private static QpCap checkCap(Device device, QpCap c, boolean withSrq) {
    var a = device.attributes();
    range("cap.maxSendWr", c.maxSendWr(), 1, a.maxQpWr());
    if (!withSrq) {
      range("cap.maxRecvWr", c.maxRecvWr(), 1, a.maxQpWr());
      range("cap.maxRecvSge", c.maxRecvSge(), 0, a.maxSge());
    }
    range("cap.maxSendSge", c.maxSendSge(), 0, a.maxSge());
    range("cap.maxInlineData", c.maxInlineData(), 0, a.maxInlineData());
    // What is provided: exactly what was asked (the rings may be larger, but the limits are enforced as asked).
    return c;
  }

  private static void range(String field, long value, long min, long max) {
    if (value < min || value > max) {
      throw new InvalidArgumentException(field, "must be " + min + ".." + max + " (device limit), was " + value);
    }
  }

  // ---- getters: never block, any thread ----

  /** The protection domain. */
  public ProtectionDomain pd() {
    return pd;
  }

  /** The device. */
  public Device device() {
    return pd.device();
  }

  /** The transport type. */
  public QpType type() {
    return type;
  }

  /** The QP number (24 bits). */
  public int qpNum() {
    return qpNum;
  }

  /** The CQ of the send queue. */
  public CompletionQueue sendCq() {
    return sendCq;
  }

  /** The CQ of the receive queue. */
  public CompletionQueue recvCq() {
    return recvCq;
  }

  /** The capabilities provided. */
  public QpCap cap() {
    return cap;
  }

  /** The shared receive queue the QP takes receives from, or null. */
  public SharedReceiveQueue srq() {
    return srq;
  }

  /** True if every send WR completes; false if only SIGNALED ones (and errors) do. */
  public boolean signalAll() {
    return signalAll;
  }

  /** The context given at creation, or null. */
  public Object context() {
    return context;
  }

  /** The current state. */
  public QpState state() {
    return state.get();
  }

  /** The current attributes ({@code ib_query_qp}), state included. Never blocks. */
  public QpAttr query() {
    return attr.toBuilder().qpState(state.get()).build();
  }

  // ---- post verbs: synchronous, non-blocking, any context ----

  /** Posts one send work request; see {@link #postSend(List)}. */
  public void postSend(SendWr wr) {
    postOneSend(wr, 0);
  }

  /**
   * Posts send work requests in order ({@code ib_post_send}). Allowed in RTS, SQD (queued, not started),
   * SQE and ERR (flushed with WR_FLUSH_ERR). Processing stops at the first request that cannot be posted;
   * the ones before it stay posted. Everything found while executing (bad keys, remote errors, RNR,
   * timeouts) comes back as a completion, never from here. <b>Never blocks; any thread and any context.</b>
   *
   * @throws PostException naming the request and why: {@code INVALID} for the wrong state, an opcode
   *     the QP type does not take, too many SGEs, inline data too long, a UD request without a valid
   *     address handle of the QP's PD, a message larger than the port allows; {@code QUEUE_FULL} when
   *     {@code maxSendWr} requests are outstanding
   */
  public void postSend(List<SendWr> wrs) {
    for (int i = 0; i < wrs.size(); i++) {
      postOneSend(wrs.get(i), i);
    }
  }

  private void postOneSend(SendWr wr, int index) {
    if (wr == null) {
      throw new PostException(PostException.Reason.INVALID, index, "null work request");
    }
    if (destroyed) {
      throw invalid(index, "QP " + qpNum + " was destroyed");
    }
    QpState s = state.get();
    if (s == QpState.RESET || s == QpState.INIT || s == QpState.RTR) {
      throw invalid(index, "QP " + qpNum + " is in " + s + ": posting sends needs RTS, SQD, SQE or ERR");
    }
    if (!wr.opcode().validOn(type)) {
      throw invalid(index, wr.opcode() + " is not valid on a " + type + " QP");
    }
    if (!driver.supports(wr.opcode())) {
      throw invalid(index, "the " + DeviceResources.ops(device()).driverName() + " driver does not execute "
          + wr.opcode() + " (yet)");
    }
    if (wr.sgList().size() > cap.maxSendSge()) {
      throw invalid(index, wr.sgList().size() + " SGEs exceed maxSendSge " + cap.maxSendSge());
    }
    long length = wr.length();
    if ((wr.opcode() == WrOpcode.ATOMIC_CMP_AND_SWP || wr.opcode() == WrOpcode.ATOMIC_FETCH_AND_ADD) && length != 8) {
      throw invalid(index, "an atomic needs local SGEs of 8 bytes in all (the original value), not " + length);
    }
    if (type == QpType.UD) {
      AddressHandle ah = wr.ah();
      if (ah == null) {
        throw invalid(index, "a UD send needs an address handle");
      }
      if (ah.pd() != pd) {
        throw invalid(index, "the address handle is of " + ah.pd() + ", the QP of " + pd);
      }
      if (!ah.isValid()) {
        throw invalid(index, "the address handle was destroyed");
      }
      if ((wr.remoteQpn() & ~0xFFFFFF) != 0) {
        throw invalid(index, "remoteQpn " + wr.remoteQpn() + " is not a 24-bit QP number");
      }
      PortAttributes port = device().cachedPort(ah.query().portNum());
      if (length > port.activeMtu().bytes()) {
        throw invalid(index, "a UD message of " + length + " bytes exceeds the path MTU " + port.activeMtu().bytes());
      }
    } else if (length > maxMsgSize()) {
      throw invalid(index, "a message of " + length + " bytes exceeds the port's maxMsgSize " + maxMsgSize());
    }
    Object entry = wr;
    if (wr.opcode() == WrOpcode.REG_MR || wr.opcode() == WrOpcode.LOCAL_INV) {
      if (!wr.sgList().isEmpty()) {
        throw invalid(index, wr.opcode() + " carries no data, but has " + wr.sgList().size() + " SGE(s)");
      }
      if (wr.opcode() == WrOpcode.REG_MR) {
        entry = new FastRegSend(wr, stagedPages(wr, index));
      }
    }
    if (wr.has(SendFlags.INLINE)) {
      if (!wr.opcode().allowsInline()) {
        throw invalid(index, wr.opcode() + " cannot carry inline data");
      }
      if (length > cap.maxInlineData()) {
        throw invalid(index, length + " bytes of inline data exceed maxInlineData " + cap.maxInlineData());
      }
      entry = new InlineSend(wr, gatherInline(wr, index));
    }
    if (!sq.post(entry)) {
      throw new PostException(PostException.Reason.QUEUE_FULL, index,
          "the send queue of QP " + qpNum + " is full (" + sq.capacity() + " outstanding)");
    }
    if (sq.ringDoorbell()) {
      driver.sendDoorbell();
    }
  }

  /** Copies an inline request's payload now; the lkeys only locate the bytes (no access check, as in IB). */
  private byte[] gatherInline(SendWr wr, int index) {
    byte[] data = new byte[(int) wr.length()];
    int pos = 0;
    KeyTable keys = DeviceVerbs.of(device()).keys();
    for (Sge sge : wr.sgList()) {
      MrMapping m = keys.resolve(sge.lkey());
      if (m == null || !m.contains(sge.addr(), sge.length())) {
        throw invalid(index, String.format("inline data: SGE (addr 0x%x, %d bytes, lkey 0x%x) is not in a "
            + "registered region", sge.addr(), sge.length(), sge.lkey()));
      }
      m.get(sge.addr(), data, pos, sge.length());
      pos += sge.length();
    }
    return data;
  }

  /**
   * The static checks of a REG_MR, and the snapshot of its region's page list (null if it has none). What
   * depends on the region's state, kind, PD and key is checked when it executes, as rxe does, and fails
   * with LOC_QP_OP_ERR.
   */
  private MrMapping stagedPages(SendWr wr, int index) {
    MemoryRegion mr = wr.regMr();
    if (mr == null) {
      throw invalid(index, "REG_MR needs a region (SendWr.Builder.reg)");
    }
    try {
      AccessFlags.validateMr(wr.regAccess(), "regAccess");
    } catch (dev.midlayer.ib.InvalidArgumentException e) {
      throw invalid(index, "REG_MR: " + e.getMessage());
    }
    return mr.staged();
  }

  /** Posts one receive work request; see {@link #postRecv(List)}. */
  public void postRecv(RecvWr wr) {
    postOneRecv(wr, 0);
  }

  /**
   * Posts receive work requests in order ({@code ib_post_recv}). Allowed from INIT on; in ERR they are
   * flushed. Stops at the first one that cannot be posted; earlier ones stay posted. <b>Never blocks; any
   * thread and any context.</b>
   *
   * @throws PostException {@code INVALID} in RESET or for too many SGEs; {@code QUEUE_FULL} when
   *     {@code maxRecvWr} requests are outstanding
   */
  public void postRecv(List<RecvWr> wrs) {
    for (int i = 0; i < wrs.size(); i++) {
      postOneRecv(wrs.get(i), i);
    }
  }

  private void postOneRecv(RecvWr wr, int index) {
    if (wr == null) {
      throw new PostException(PostException.Reason.INVALID, index, "null work request");
    }
    if (destroyed) {
      throw invalid(index, "QP " + qpNum + " was destroyed");
    }
    if (srq != null) {
      throw invalid(index, "QP " + qpNum + " takes its receives from " + srq + ": post them there");
    }
    if (state.get() == QpState.RESET) {
      throw invalid(index, "QP " + qpNum + " is in RESET: posting receives needs INIT or later");
    }
    if (wr.sgList().size() > cap.maxRecvSge()) {
      throw invalid(index, wr.sgList().size() + " SGEs exceed maxRecvSge " + cap.maxRecvSge());
    }
    if (!rq.post(wr)) {
      throw new PostException(PostException.Reason.QUEUE_FULL, index,
          "the receive queue of QP " + qpNum + " is full (" + rq.capacity() + " outstanding)");
    }
    // Posted while in ERR: it must be flushed too. The post happens before this read, and a move to ERR
    // flushes after its own write, so every receive is flushed by one of the two.
    if (state.get() == QpState.ERR) {
      driver.flushDoorbell();
    }
  }

  private PostException invalid(int index, String message) {
    return new PostException(PostException.Reason.INVALID, index, message);
  }

  private long maxMsgSize() {
    int port = attr.portNum();
    return device().cachedPort(port >= 1 && port <= device().portCount() ? port : 1).maxMsgSize();
  }

  // ---- may-sleep verbs ----

  /**
   * Modifies the QP's state and attributes ({@code ib_modify_qp}). The mask must contain every attribute
   * the transition requires and none it does not allow ({@link QpStateTable}); a mask without STATE keeps
   * the state. If anything is wrong, nothing changes. To ERR, every outstanding work request completes
   * with WR_FLUSH_ERR in posting order; to RESET, they are dropped without completions.
   * <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link InvalidArgumentException} naming the transition, the mask bits
   *     or the attribute value that was wrong
   */
  public CompletionStage<Done> modify(QpAttr newAttr, int mask) {
    InvalidArgumentException.requireNonNull(newAttr, "attr");
    CompletionStage<CompletionStage<?>> applied = DeviceResources.run(device(), "modifyQp", () -> {
      while (true) {
        QpState from = state.get();
        QpState to = QpStateTable.check(type, from, mask, newAttr.qpState(), newAttr.curQpState());
        checkValues(newAttr, mask);
        QpAttr merged = merge(attr, newAttr, mask, to);
        if (state.compareAndSet(from, to)) {
          attr = merged;
          return driver.modified(from, to, merged, mask);
        }
        // The driver moved the QP (to ERR) meanwhile: judge the request against the new state.
      }
    });
    // Complete once the driver applied it: after modify to RESET nothing old is left to drop a new post.
    return applied.thenCompose(driverDone -> driverDone).thenApply(x -> Done.getInstance());
  }

  private void checkValues(QpAttr a, int mask) {
    Device device = device();
    int port = (mask & QpAttrMask.PORT) != 0 ? a.portNum() : attr.portNum();
    if ((mask & QpAttrMask.PORT) != 0) {
      range("attr.portNum", a.portNum(), 1, device.portCount());
    }
    if ((mask & QpAttrMask.PKEY_INDEX) != 0) {
      int len = device.cachedPort(port >= 1 && port <= device.portCount() ? port : 1).pkeyTableLength();
      range("attr.pkeyIndex", a.pkeyIndex(), 0, len - 1);
    }
    if ((mask & QpAttrMask.ACCESS_FLAGS) != 0) {
      AccessFlags.validateQp(a.accessFlags(), "attr.accessFlags");
    }
    if ((mask & QpAttrMask.AV) != 0) {
      InvalidArgumentException.requireNonNull(a.ahAttr(), "attr.ahAttr");
      a.ahAttr().validate(device.name(), device.portCount(), device::cachedPort);
    }
    if ((mask & QpAttrMask.PATH_MTU) != 0) {
      InvalidArgumentException.requireNonNull(a.pathMtu(), "attr.pathMtu");
      int p = (mask & QpAttrMask.AV) != 0 ? a.ahAttr().portNum() : port;
      var max = device.cachedPort(p >= 1 && p <= device.portCount() ? p : 1).maxMtu();
      if (a.pathMtu().bytes() > max.bytes()) {
        throw new InvalidArgumentException("attr.pathMtu", a.pathMtu() + " exceeds the port's max MTU " + max);
      }
    }
    if ((mask & QpAttrMask.TIMEOUT) != 0) {
      range("attr.timeout", a.timeout(), 0, 31);
    }
    if ((mask & QpAttrMask.RETRY_CNT) != 0) {
      range("attr.retryCnt", a.retryCnt(), 0, 7);
    }
    if ((mask & QpAttrMask.RNR_RETRY) != 0) {
      range("attr.rnrRetry", a.rnrRetry(), 0, 7);
    }
    if ((mask & QpAttrMask.MIN_RNR_TIMER) != 0) {
      range("attr.minRnrTimer", a.minRnrTimer(), 0, 31);
    }
    if ((mask & QpAttrMask.RQ_PSN) != 0) {
      range("attr.rqPsn", a.rqPsn(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.SQ_PSN) != 0) {
      range("attr.sqPsn", a.sqPsn(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.DEST_QPN) != 0) {
      range("attr.destQpNum", a.destQpNum(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.MAX_QP_RD_ATOMIC) != 0) {
      range("attr.maxRdAtomic", a.maxRdAtomic(), 0, device.attributes().maxQpInitRdAtom());
    }
    if ((mask & QpAttrMask.MAX_DEST_RD_ATOMIC) != 0) {
      range("attr.maxDestRdAtomic", a.maxDestRdAtomic(), 0, device.attributes().maxQpRdAtom());
    }
    if ((mask & (QpAttrMask.ALT_PATH | QpAttrMask.PATH_MIG_STATE)) != 0) {
      throw new InvalidArgumentException("mask", "alternate paths (ALT_PATH, PATH_MIG_STATE) are not supported");
    }
  }

  private static QpAttr merge(QpAttr cur, QpAttr a, int mask, QpState to) {
    QpAttr.Builder b = cur.toBuilder().qpState(to);
    if ((mask & QpAttrMask.EN_SQD_ASYNC_NOTIFY) != 0) b.enSqdAsyncNotify(a.enSqdAsyncNotify());
    if ((mask & QpAttrMask.ACCESS_FLAGS) != 0) b.accessFlags(a.accessFlags());
    if ((mask & QpAttrMask.PKEY_INDEX) != 0) b.pkeyIndex(a.pkeyIndex());
    if ((mask & QpAttrMask.PORT) != 0) b.portNum(a.portNum());
    if ((mask & QpAttrMask.QKEY) != 0) b.qkey(a.qkey());
    if ((mask & QpAttrMask.AV) != 0) b.ahAttr(a.ahAttr());
    if ((mask & QpAttrMask.PATH_MTU) != 0) b.pathMtu(a.pathMtu());
    if ((mask & QpAttrMask.TIMEOUT) != 0) b.timeout(a.timeout());
    if ((mask & QpAttrMask.RETRY_CNT) != 0) b.retryCnt(a.retryCnt());
    if ((mask & QpAttrMask.RNR_RETRY) != 0) b.rnrRetry(a.rnrRetry());
    if ((mask & QpAttrMask.RQ_PSN) != 0) b.rqPsn(a.rqPsn());
    if ((mask & QpAttrMask.MAX_QP_RD_ATOMIC) != 0) b.maxRdAtomic(a.maxRdAtomic());
    if ((mask & QpAttrMask.MIN_RNR_TIMER) != 0) b.minRnrTimer(a.minRnrTimer());
    if ((mask & QpAttrMask.SQ_PSN) != 0) b.sqPsn(a.sqPsn());
    if ((mask & QpAttrMask.MAX_DEST_RD_ATOMIC) != 0) b.maxDestRdAtomic(a.maxDestRdAtomic());
    if ((mask & QpAttrMask.DEST_QPN) != 0) b.destQpNum(a.destQpNum());
    return b.build();
  }

  /**
   * Drains the send queue ({@code ib_drain_sq}): moves the QP to ERR, posts a marker, and completes when
   * the marker's flush completion has been processed, so every earlier send WR has been reported. The
   * send CQ must come from {@link Device#allocCq} (the marker is seen by its {@code Cqe}); for a
   * {@link PollContext#DIRECT} CQ the drain polls it itself every millisecond, calling the other
   * completions' {@code done} too, so nobody else should poll it meanwhile. Needs room for one more WR.
   * <b>May sleep</b>: not from atomic context (never from the CQ's own callbacks).
   *
   * @throws InvalidArgumentException if the send CQ was made with {@code createCq}
   */
  public CompletionStage<Done> drainSq() {
    DeviceResources.contextChecker(device()).mightSleep("drainSq");
    requirePollContext(sendCq, "sendCq");
    CompletableFuture<Done> marker = new CompletableFuture<>();
    SendWr wr = SendWr.builder(WrOpcode.SEND).cqe((cq, wc) -> marker.complete(Done.getInstance())).build();
    return toError("drainSq").thenCompose(d -> {
      if (!sq.post(wr)) {
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainSq: no room for the marker in the send queue of QP " + qpNum));
      }
      if (sq.ringDoorbell()) {
        driver.sendDoorbell();
      }
      return awaitMarker(sendCq, marker);
    });
  }

  /**
   * Drains the receive queue ({@code ib_drain_rq}) the same way with an empty receive marker; nothing to do
   * for a QP on an SRQ. See {@link #drainSq()}. <b>May sleep</b>.
   */
  public CompletionStage<Done> drainRq() {
    DeviceResources.contextChecker(device()).mightSleep("drainRq");
    if (srq != null) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    requirePollContext(recvCq, "recvCq");
    CompletableFuture<Done> marker = new CompletableFuture<>();
    RecvWr wr = new RecvWr(0, (cq, wc) -> marker.complete(Done.getInstance()), List.of());
    return toError("drainRq").thenCompose(d -> {
      if (!rq.post(wr)) {
        return CompletableFuture.failedFuture(new PostException(PostException.Reason.QUEUE_FULL, 0,
            "drainRq: no room for the marker in the receive queue of QP " + qpNum));
      }
      driver.flushDoorbell();
      return awaitMarker(recvCq, marker);
    });
  }

  /** Drains the send queue, then the receive queue ({@code ib_drain_qp}). <b>May sleep</b>. */
  public CompletionStage<Done> drainQp() {
    return drainSq().thenCompose(d -> drainRq());
  }

  private CompletionStage<Done> toError(String verb) {
    CompletionStage<CompletionStage<?>> applied = DeviceResources.run(device(), verb, () -> {
      QpState from = state.get();
      if (from == QpState.RESET) {
        throw new InvalidArgumentException("qpState", verb + ": QP " + qpNum + " is in RESET, nothing to drain");
      }
      if (moveToError()) {
        attr = attr.toBuilder().qpState(QpState.ERR).build();
        return driver.modified(from, QpState.ERR, attr, QpAttrMask.STATE);
      }
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    return applied.thenCompose(driverDone -> driverDone).thenApply(x -> Done.getInstance());
  }

  private static void requirePollContext(CompletionQueue cq, String field) {
    if (cq.pollContext() == null) {
      throw new InvalidArgumentException(field, cq + " was made with createCq: draining needs a CQ from allocCq "
          + "(its completions carry a Cqe)");
    }
  }

  private static CompletionStage<Done> awaitMarker(CompletionQueue cq, CompletableFuture<Done> marker) {
    if (cq.pollContext() == PollContext.DIRECT) {
      pollUntil(cq, marker);
    }
    // The marker completes inside a done callback (atomic context): continue on another thread, so that
    // the caller's next step (drainRq after drainSq, destroy, ...) may sleep.
    return marker.thenApplyAsync(d -> d);
  }

  /** DIRECT CQs: poll in the drainer's stead every millisecond until the marker completed. */
  private static void pollUntil(CompletionQueue cq, CompletableFuture<Done> marker) {
    if (marker.isDone()) {
      return;
    }
    cq.processDirect(CompletionQueue.POLL_BATCH * 16);
    if (!marker.isDone()) {
      CompletableFuture.runAsync(() -> pollUntil(cq, marker),
          CompletableFuture.delayedExecutor(1, TimeUnit.MILLISECONDS));
    }
  }

  /**
   * Destroys the QP ({@code ib_destroy_qp}). Outstanding work requests vanish without completions: drain
   * first. <b>May sleep</b>: not from atomic context (never from the QP's own event handler).
   */
  public CompletionStage<Done> destroy() {
    return DeviceResources.destroy(device(), "destroyQp", this, () -> {
      teardown(false);
      return null;
    });
  }

  @Override
  public String describe() {
    return type + " QP " + qpNum;
  }

  /** The driver's actor: destroying the QP completes once it has stopped. */
  @Override
  public org.apache.pekko.actor.typed.ActorRef<?> fence() {
    return driver.actor();
  }

  /** A QP left behind at unregistration: its outstanding WRs are flushed before it goes (nothing lost). */
  @Override
  public void reclaim() {
    teardown(true);
  }

  private void teardown(boolean flushFirst) {
    destroyed = true;
    DeviceVerbs.of(device()).removeQp(this);
    QpState before = state.get();
    if (flushFirst && moveToError()) {
      driver.modified(before, QpState.ERR, attr, QpAttrMask.STATE);
    }
    driver.destroy();
    sendCq.detach(this);
    recvCq.detach(this);
    if (srq != null) {
      srq.detach();
    }
    pd.release();
  }

  @Override
  public String toString() {
    return describe() + " on " + device().name() + " (" + state.get() + ")";
  }

  // ---- driver side ----

  /** Internal, for drivers: the send queue ({@link SendWr}, {@link InlineSend} or {@link FastRegSend} entries). */
  public WorkQueue<Object> sendQueue() {
    return sq;
  }

  /** Internal, for drivers: the receive queue. */
  public WorkQueue<RecvWr> recvQueue() {
    return rq;
  }

  /** Internal, for drivers: the driver's side of this QP (drivers route to their peer QPs through it). */
  public DriverQp driverQp() {
    return driver;
  }

  /** Internal, for drivers: the current attributes without allocating (state may lag {@link #state()}). */
  public QpAttr attributes() {
    return attr;
  }

  /**
   * For drivers: a transport or local error moves the QP to ERR (from any state but RESET). Returns true
   * if this call made the transition (the driver then flushes). Lock-free; any thread.
   */
  public boolean moveToError() {
    for (QpState s = state.get(); s != QpState.ERR && s != QpState.RESET; s = state.get()) {
      if (state.compareAndSet(s, QpState.ERR)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A fatal error outside the driver (its CQ overflowed): the QP moves to ERR, the driver flushes it, and
   * {@code event} goes to the QP's event handler. Called on a midlayer actor, never inside a verb.
   */
  public void fail(AsyncEventType event) {
    QpState from = state.get();
    if (moveToError()) {
      attr = attr.toBuilder().qpState(QpState.ERR).build();
      driver.modified(from, QpState.ERR, attr, QpAttrMask.STATE);
      raiseEvent(event);
    }
  }

  /** For drivers: a UD or UC send error moves the QP from RTS to SQE. Returns true if it did. */
  public boolean moveToSqError() {
    return state.compareAndSet(QpState.RTS, QpState.SQE);
  }

  /** For drivers: true if a send WR's success produces a completion. */
  public boolean signaled(SendWr wr) {
    return signalAll || wr.has(SendFlags.SIGNALED);
  }

  /**
   * For drivers: delivers an affiliated event (QP_FATAL, COMM_EST, SQ_DRAINED, QP_LAST_WQE_REACHED, ...)
   * to the QP's event handler, in atomic context, on the calling (driver actor) thread. Never call it from
   * inside a verb a consumer called.
   */
  public void raiseEvent(AsyncEventType eventType) {
    if (eventHandler == null) {
      return;
    }
    AsyncEvent event = new AsyncEvent(device(), eventType, new EventElement.OfQp(qpNum));
    AtomicContext.run(eventCallbackName, () -> eventHandler.onEvent(event));
  }
}
