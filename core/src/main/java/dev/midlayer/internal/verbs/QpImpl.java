package dev.midlayer.internal.verbs;

import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.TransportCounters;
import dev.midlayer.ib.QpType;
import dev.midlayer.internal.cq.CqImpl;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverOp;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.MissingDriverOpException;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. A {@link QueuePair}: its identity, capabilities, work queues, state and attributes, and its
 * lifetime (create, destroy, reclaim). The roles live apart: {@link QpPost} checks and posts work requests,
 * {@link QpModify} applies the state machine, {@link QpDrain} drains, and {@link QpDriverSide} is what the
 * driver sees ({@link dev.midlayer.spi.QpContext}).
 */
public final class QpImpl implements QueuePair, DeviceResource {
  final PdImpl pd;
  private final dev.midlayer.client.ClientId owner;
  final QpType type;
  final int qpNum;
  final CqImpl sendCq;
  final CqImpl recvCq;
  final SrqImpl srq;
  final QpCap cap;
  final boolean signalAll;
  final EventHandler eventHandler;
  final Object context;
  final WorkQueueImpl<SendWqe> sq;
  final WorkQueueImpl<RecvWqe> rq;
  final AtomicReference<QpState> state = new AtomicReference<>(QpState.RESET);
  volatile QpAttr attr = QpAttr.builder().qpState(QpState.RESET).build();
  volatile boolean destroyed;
  final String eventCallbackName;
  final QpDriverSide driverSide;
  /** The markers of drains in progress: failed if the QP goes before their completion comes. */
  private final java.util.Set<DrainMarker> drains = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** CQ overflows this QP's completions caused: the CQs are the midlayer's, so it counts them, not the driver. */
  private final java.util.concurrent.atomic.AtomicLong cqOverflows = new java.util.concurrent.atomic.AtomicLong();
  DriverQp driver;

  private QpImpl(PdImpl pd, int qpNum, QpInitAttr init, CqImpl sendCq, CqImpl recvCq, SrqImpl srq, QpCap cap) {
    this.owner = pd.owner() != null ? pd.owner() : dev.midlayer.client.ClientContext.current();
    this.pd = pd;
    this.type = init.type();
    this.qpNum = qpNum;
    this.sendCq = sendCq;
    this.recvCq = recvCq;
    this.srq = srq;
    this.cap = cap;
    this.signalAll = init.signalAll();
    this.eventHandler = init.eventHandler();
    this.context = init.context();
    this.sq = new WorkQueueImpl<>(cap.maxSendWr());
    this.rq = new WorkQueueImpl<>(Math.max(1, cap.maxRecvWr()));
    this.eventCallbackName = "event handler of QP " + qpNum + " on " + pd.device().name()
        + (owner == null ? "" : " (" + owner + ")");
    this.driverSide = new QpDriverSide(this);
  }

  /** {@code ib_create_qp}; see {@link dev.midlayer.verbs.ProtectionDomain#createQp}. */
  static CompletionStage<QueuePair> create(PdImpl pd, QpInitAttr init) {
    DeviceImpl device = pd.device();
    InvalidArgumentException.requireNonNull(init, "init");
    InvalidArgumentException.requireNonNull(init.type(), "init.type");
    InvalidArgumentException.requireNonNull(init.sendCq(), "init.sendCq");
    InvalidArgumentException.requireNonNull(init.recvCq(), "init.recvCq");
    InvalidArgumentException.requireNonNull(init.cap(), "init.cap");
    if (init.sendCq().device() != device || init.recvCq().device() != device
        || !(init.sendCq() instanceof CqImpl sendCq) || !(init.recvCq() instanceof CqImpl recvCq)) {
      throw new InvalidArgumentException("init.sendCq/recvCq", "CQs must be on " + device.name());
    }
    if (init.srq() != null && (init.srq().pd() != pd || !(init.srq() instanceof SrqImpl))) {
      throw new InvalidArgumentException("init.srq", init.srq() + " is of " + init.srq().pd() + ", not " + pd);
    }
    SrqImpl srq = (SrqImpl) init.srq();
    QpCap cap = checkCap(device, init.cap(), srq != null);
    DeviceOps ops = device.ops();
    if (ops.createQp() == null) {
      throw new MissingDriverOpException(ops.driverName(), List.of(DriverOp.CREATE_QP));
    }
    return DeviceResources.create(device, "createQp", spawners -> {
      DeviceVerbs verbs = device.verbs();
      pd.retain(); // fails if the PD was deallocated meanwhile
      QpImpl qp = new QpImpl(pd, verbs.nextQpNumber(), init, sendCq, recvCq, srq, cap);
      try {
        qp.driver = ops.createQp().createQp(qp.driverSide, spawners.dataPath());
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

  private static QpCap checkCap(DeviceImpl device, QpCap c, boolean withSrq) {
    DeviceAttributes a = device.attributes();
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

  static void range(String field, long value, long min, long max) {
    if (value < min || value > max) {
      throw new InvalidArgumentException(field, "must be " + min + ".." + max + " (device limit), was " + value);
    }
  }

  // ---- getters: never block, any thread ----

  @Override
  public PdImpl pd() {
    return pd;
  }

  @Override
  public DeviceImpl device() {
    return pd.device();
  }

  @Override
  public QpType type() {
    return type;
  }

  @Override
  public int qpNum() {
    return qpNum;
  }

  @Override
  public CqImpl sendCq() {
    return sendCq;
  }

  @Override
  public CqImpl recvCq() {
    return recvCq;
  }

  @Override
  public QpCap cap() {
    return cap;
  }

  @Override
  public SrqImpl srq() {
    return srq;
  }

  @Override
  public boolean signalAll() {
    return signalAll;
  }

  @Override
  public Object context() {
    return context;
  }

  @Override
  public QpState state() {
    return state.get();
  }

  @Override
  public TransportCounters counters() {
    TransportCounters c = driver.counters();
    long overflows = cqOverflows.get();
    return overflows == 0 ? c : c.plus(new TransportCounters(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, overflows));
  }

  /**
   * A completion of this QP overflowed its CQ ({@code cq_overflow}); called once per overflowed CQ, by the pusher
   * that overflowed it. Lock-free; any thread.
   */
  public void countCqOverflow() {
    cqOverflows.incrementAndGet();
  }

  @Override
  public dev.midlayer.device.QpResourceInfo qpInfo() {
    return new dev.midlayer.device.QpResourceInfo(qpNum, type, state.get(), attr.portNum(), driver.counters());
  }

  @Override
  public QpAttr query() {
    return attr.toBuilder().qpState(state.get()).build();
  }

  // ---- verbs ----

  @Override
  public void postSend(SendWr wr) {
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    if (m == null) {
      QpPost.send(this, wr, 0, null);
      return;
    }
    m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_SEND, this, device(), owner);
    try {
      QpPost.send(this, wr, 0, m);
    } finally {
      m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_SEND);
    }
  }

  @Override
  public void postSend(List<SendWr> wrs) {
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    if (m != null) {
      m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_SEND, this, device(), owner);
    }
    try {
      for (int i = 0; i < wrs.size(); i++) {
        QpPost.send(this, wrs.get(i), i, m);
      }
    } finally {
      if (m != null) {
        m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_SEND);
      }
    }
  }

  @Override
  public void postRecv(RecvWr wr) {
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    if (m == null) {
      QpPost.recv(this, wr, 0, null);
      return;
    }
    m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_RECV, this, device(), owner);
    try {
      QpPost.recv(this, wr, 0, m);
    } finally {
      m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_RECV);
    }
  }

  @Override
  public void postRecv(List<RecvWr> wrs) {
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    if (m != null) {
      m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_RECV, this, device(), owner);
    }
    try {
      for (int i = 0; i < wrs.size(); i++) {
        QpPost.recv(this, wrs.get(i), i, m);
      }
    } finally {
      if (m != null) {
        m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_RECV);
      }
    }
  }

  @Override
  public CompletionStage<Done> modify(QpAttr newAttr, int mask) {
    return QpModify.modify(this, newAttr, mask);
  }

  @Override
  public CompletionStage<Done> drainSq() {
    return QpDrain.drainSq(this);
  }

  @Override
  public CompletionStage<Done> drainRq() {
    return QpDrain.drainRq(this);
  }

  @Override
  public CompletionStage<Done> destroy() {
    return DeviceResources.destroy(device(), "destroyQp", this, () -> {
      teardown(false);
      return null;
    });
  }

  @Override
  public dev.midlayer.client.ClientId owner() {
    return owner;
  }

  @Override
  public String describe() {
    return type + " QP " + qpNum;
  }

  /** The driver's actor: destroying the QP completes once it has stopped. */
  @Override
  public ActorRef<?> fence() {
    return driver.actor();
  }

  /** A QP left behind: its outstanding WRs are flushed before it goes (nothing lost). */
  @Override
  public void reclaim() {
    teardown(true);
  }

  /**
   * Registers a drain's marker before it is posted; false (the drain failed with a typed error) if the QP
   * was destroyed already. Lock-free.
   */
  boolean watchDrain(DrainMarker marker) {
    drains.add(marker);
    if (destroyed) {
      failDrain(marker);
      return false;
    }
    return true;
  }

  /** The marker's completion is in (or can never come): forget it. */
  void forgetDrain(DrainMarker marker) {
    drains.remove(marker);
  }

  private void failDrain(DrainMarker marker) {
    drains.remove(marker);
    RuntimeException why;
    if (device().unregistered()) {
      why = new dev.midlayer.device.DeviceUnregisteredException(device().name(), marker.verb);
    } else {
      why = new dev.midlayer.verbs.ObjectDestroyedException(marker.verb + ": " + describe() + " on "
          + device().name() + " was destroyed before the drain's marker completed");
    }
    marker.fail(why);
  }

  private void teardown(boolean flushFirst) {
    destroyed = true;
    for (DrainMarker m : drains) {
      failDrain(m);
    }
    device().verbs().removeQp(this);
    QpState before = state.get();
    if (flushFirst && moveToError()) {
      driver.modified(before, QpState.ERR, attr, QpAttrMask.STATE);
    }
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    if (m != null) {
      // In ERR (or moved there to be reclaimed), the driver flushes everything outstanding before it stops.
      boolean flushed = state.get() == QpState.ERR;
      m.ledger().tornDown(sq, flushed);
      m.ledger().tornDown(rq, flushed);
    }
    driver.destroy();
    device().verbs().retireCounters(attr.portNum(), counters());
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

  // ---- for the other roles ----

  /**
   * Hands {@code posted} to the send queue; false if it is full. The monitor's ledger, if {@code m} (the monitor
   * the verb read once, or null) is one, records it first: the driver may complete it before the post returns.
   */
  boolean offerSend(PostedSend posted, boolean signaled, dev.midlayer.monitor.ContractMonitor m) {
    if (m == null) {
      return sq.post(posted);
    }
    m.ledger().posted(sq, "send queue of " + this, owner, posted, signaled);
    if (sq.post(posted)) {
      return true;
    }
    m.ledger().refused(sq, posted);
    return false;
  }

  /** Hands {@code posted} to the receive queue; false if it is full. Recorded in the ledger as a send is. */
  boolean offerRecv(PostedRecv posted, dev.midlayer.monitor.ContractMonitor m) {
    if (m == null) {
      return rq.post(posted);
    }
    m.ledger().posted(rq, "receive queue of " + this, owner, posted, true);
    if (rq.post(posted)) {
      return true;
    }
    m.ledger().refused(rq, posted);
    return false;
  }

  /** False once destroyed or reclaimed: its pending events are dropped then. */
  boolean alive() {
    return !destroyed;
  }

  /** The driver's view of this QP. */
  public QpDriverSide driverSide() {
    return driverSide;
  }

  /** The driver's side of this QP. */
  public DriverQp driver() {
    return driver;
  }

  /** The send queue. */
  public WorkQueueImpl<SendWqe> sendQueue() {
    return sq;
  }

  /** The receive queue. */
  public WorkQueueImpl<RecvWqe> recvQueue() {
    return rq;
  }

  /** Moves the QP to ERR from any state but RESET; true if this call did. Lock-free. */
  boolean moveToError() {
    for (QpState s = state.get(); s != QpState.ERR && s != QpState.RESET; s = state.get()) {
      if (state.compareAndSet(s, QpState.ERR)) {
        dev.midlayer.internal.jfr.MidlayerEvents.qpStateChange(device().name(), qpNum, s, QpState.ERR);
        return true;
      }
    }
    return false;
  }

  /**
   * A fatal error outside the driver (its CQ overflowed): the QP moves to ERR, the driver flushes it, and
   * {@code event} goes to the QP's event handler. Called on a midlayer actor, never inside a verb.
   */
  public void fail(dev.midlayer.ib.AsyncEventType event) {
    QpState from = state.get();
    if (moveToError()) {
      attr = attr.toBuilder().qpState(QpState.ERR).build();
      driver.modified(from, QpState.ERR, attr, QpAttrMask.STATE);
      driverSide.raiseEvent(event);
    }
  }
}
