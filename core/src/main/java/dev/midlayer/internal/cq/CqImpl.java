package dev.midlayer.internal.cq;

import dev.midlayer.monitor.ContractMonitor;
import dev.midlayer.monitor.NonSleepingVerb;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.cq.PollContext;
import dev.midlayer.internal.NonFatal;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.internal.verbs.QpImpl;
import dev.midlayer.internal.verbs.QueuedCompletion;
import dev.midlayer.verbs.ObjectDestroyedException;
import dev.midlayer.verbs.ResourceBusyException;
import dev.midlayer.verbs.WorkCompletion;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.jctools.queues.MpmcArrayQueue;

/**
 * Internal API. A {@link CompletionQueue}: the ring (JCTools {@code MpmcArrayQueue}), the one-shot arming
 * flag, and the CQ's actor ({@link CqActor}), which runs its callbacks. Drivers add completions through
 * their QP's {@link dev.midlayer.spi.QpContext}, which calls {@link #push}.
 */
public final class CqImpl implements CompletionQueue, DeviceResource {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CqImpl.class);

  private static final int UNARMED = 0;
  private static final int ARMED_SOLICITED = 1;
  private static final int ARMED_NEXT = 2;

  private final DeviceImpl device;
  private final int number;
  private final MpmcArrayQueue<WorkCompletion> ring;
  private final PollContext pollContext;
  private final CompletionHandler handler;
  private final EventHandler eventHandler;
  private final Object context;
  private final AtomicInteger armed = new AtomicInteger(UNARMED);
  /** QPs and SRQs that complete into this CQ. */
  private final AtomicInteger usecnt = new AtomicInteger();
  /** The QPs among them, moved to ERR when the CQ overflows. */
  private final Set<QpImpl> qps = ConcurrentHashMap.newKeySet();
  private volatile boolean overflowed;
  private final java.util.concurrent.atomic.AtomicBoolean overflowReported = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile boolean destroyed;
  private ActorRef<CqActor.Command> actor;
  private final ClientId owner = ClientContext.current();
  private final String directCallbackName;

  private CqImpl(DeviceImpl device, int number, int cqe, PollContext pollContext, CompletionHandler handler,
      EventHandler eventHandler, Object context) {
    this.device = device;
    this.number = number;
    this.ring = new MpmcArrayQueue<>(Math.max(2, cqe));
    this.pollContext = pollContext;
    this.handler = handler;
    this.eventHandler = eventHandler;
    this.context = context;
    this.directCallbackName = "done callbacks of CQ #" + number + " on " + device.name() + " (processDirect)";
  }

  /** Creates a CQ with a completion handler (the legacy {@code ib_create_cq}); see {@link Device#createCq}. */
  public static CompletionStage<CompletionQueue> create(DeviceImpl device, int cqe, CompletionHandler handler,
      EventHandler eventHandler, Object context) {
    checkDepth(device, cqe);
    return DeviceResources.create(device, "createCq", spawners -> start(
        new CqImpl(device, number(device), cqe, null, handler, eventHandler, context), spawners.callbacks(), budget(device)));
  }

  /** Creates a CQ polled per {@code pollContext} ({@code ib_alloc_cq}); see {@link Device#allocCq}. */
  public static CompletionStage<CompletionQueue> alloc(DeviceImpl device, int cqe, PollContext pollContext,
      EventHandler eventHandler) {
    checkDepth(device, cqe);
    InvalidArgumentException.requireNonNull(pollContext, "pollContext");
    return DeviceResources.create(device, "allocCq", spawners -> {
      CompletionQueue cq = start(new CqImpl(device, number(device), cqe, pollContext, null, eventHandler,
          null), spawners.callbacks(), budget(device));
      if (pollContext == PollContext.ACTOR) {
        cq.requestNotify(CqNotify.NEXT_COMP, false);
      }
      return cq;
    });
  }

  private static CqImpl start(CqImpl cq, dev.midlayer.spi.Spawner spawner, int budget) {
    cq.actor = spawner.spawn(CqActor.create(cq, budget), "cq-" + cq.number); // consumer-callback dispatcher
    return cq;
  }

  private static int number(DeviceImpl device) {
    return device.verbs().nextCqNumber();
  }

  private static int budget(DeviceImpl device) {
    return device.settings().cqPollBudget();
  }

  private static void checkDepth(DeviceImpl device, int cqe) {
    int max = device.attributes().maxCqe();
    if (cqe < 1 || cqe > max) {
      throw new InvalidArgumentException("cqe", "must be 1.." + max + " (the device's maxCqe), was " + cqe);
    }
  }

  @Override
  public DeviceImpl device() {
    return device;
  }

  @Override
  public int number() {
    return number;
  }

  @Override
  public int capacity() {
    return ring.capacity();
  }

  @Override
  public Object context() {
    return context;
  }

  @Override
  public PollContext pollContext() {
    return pollContext;
  }

  @Override
  public int peek() {
    return ring.size();
  }

  @Override
  public boolean overflowed() {
    return overflowed;
  }

  // ---- consumer side: non-sleeping, any context ----

  @Override
  public int poll(WorkCompletion[] out, int max) {
    ContractMonitor m = device.monitor();
    if (m == null) {
      return pollInto(out, max);
    }
    m.verbEntered(NonSleepingVerb.POLL_CQ, this, device, owner);
    try {
      return pollInto(out, max);
    } finally {
      m.verbExited(NonSleepingVerb.POLL_CQ);
    }
  }

  private int pollInto(WorkCompletion[] out, int max) {
    checkAlive("pollCq");
    int n = Math.min(max, out.length);
    int taken = 0;
    while (taken < n) {
      WorkCompletion wc = ring.poll();
      if (wc == null) {
        break;
      }
      out[taken++] = wc;
    }
    // Polling them frees their work requests' slots, before they are returned.
    QueuedCompletion.releaseAll(out, taken);
    return taken;
  }

  @Override
  public WorkCompletion poll() {
    ContractMonitor m = device.monitor();
    if (m == null) {
      checkAlive("pollCq");
      return take();
    }
    m.verbEntered(NonSleepingVerb.POLL_CQ, this, device, owner);
    try {
      checkAlive("pollCq");
      return take();
    } finally {
      m.verbExited(NonSleepingVerb.POLL_CQ);
    }
  }

  /**
   * Destroyed (or reclaimed) CQs refuse the data-path verbs with a typed error instead of answering as an
   * empty CQ: {@link dev.midlayer.device.DeviceUnregisteredException} once the device is gone, else
   * {@link ObjectDestroyedException}. One volatile read on the data path.
   */
  private void checkAlive(String verb) {
    if (destroyed) {
      device.checkUsable(verb);
      throw new ObjectDestroyedException(verb + ": " + this + " was destroyed");
    }
  }

  /** The next completion; polling it frees its work request's slot in its queue. */
  private WorkCompletion take() {
    WorkCompletion wc = ring.poll();
    if (wc instanceof QueuedCompletion q) {
      q.release();
    }
    return wc;
  }

  @Override
  public boolean requestNotify(CqNotify which, boolean reportMissedEvents) {
    ContractMonitor m = device.monitor();
    if (m == null) {
      return arm(which, reportMissedEvents);
    }
    m.verbEntered(NonSleepingVerb.REQ_NOTIFY_CQ, this, device, owner);
    try {
      return arm(which, reportMissedEvents);
    } finally {
      m.verbExited(NonSleepingVerb.REQ_NOTIFY_CQ);
    }
  }

  private boolean arm(CqNotify which, boolean reportMissedEvents) {
    checkAlive("reqNotifyCq");
    int want = which == CqNotify.NEXT_COMP ? ARMED_NEXT : ARMED_SOLICITED;
    armed.accumulateAndGet(want, Math::max);
    // The arm (a volatile write) comes before this read; push's offer comes before its read of `armed`.
    // So either the pusher sees the arm and notifies, or we see its completion here.
    return reportMissedEvents && !ring.isEmpty();
  }

  @Override
  public int processDirect(int budget) {
    checkAlive("processCqDirect");
    if (pollContext != PollContext.DIRECT) {
      // The CQ's actor polls it (or its handler does): a second poller would run done callbacks concurrently
      // with the actor's, against the one-callback-at-a-time rule of the CQ.
      throw new InvalidArgumentException("cq", this + " is " + (pollContext == null
          ? "made with createCq (its completion handler polls it)" : "polled by its actor (PollContext.ACTOR)")
          + ": processDirect is for DIRECT CQs");
    }
    int[] done = {0};
    // The done callbacks run in atomic context, as the actor's do: a may-sleep verb there is refused.
    AtomicContext.run(directCallbackName, () -> {
      WorkCompletion wc;
      while (done[0] < budget && (wc = take()) != null) {
        done[0]++;
        if (wc.cqe() != null) {
          try {
            wc.cqe().done(this, wc);
          } catch (Throwable e) {
            // One callback's failure (checked exceptions included) must not strand the completions after it.
            LOG.error("{}: done callback of wr_id {} threw", directCallbackName, wc.wrId(), NonFatal.rethrowIfFatal(e));
          }
        }
      }
    });
    return done[0];
  }


  // ---- driver side ----

  /**
   * Adds a completion; for drivers. <b>Never blocks; any thread</b> (drivers call it from their own
   * actors, never from inside a consumer's verb call). If the CQ is armed and the completion matches
   * (NEXT_COMP: any; SOLICITED: {@code solicited} or an error status), the CQ is disarmed and its actor
   * told to run the handler.
   *
   * @param solicited true for a receive of a message sent with the SOLICITED flag
   * @return false if it did not fit (the CQ overflowed and is now in error) or the CQ is destroyed: the
   *     driver must treat it as a fatal error of the QP that produced it
   */
  public boolean push(WorkCompletion wc, boolean solicited) {
    return push(wc, solicited, null);
  }

  /**
   * {@link #push(WorkCompletion, boolean)} for a completion of {@code from} (null: of no QP), which is counted
   * ({@code cq_overflow}) if this push is the one that overflows the CQ. Never blocks; any thread.
   */
  public boolean push(WorkCompletion wc, boolean solicited, QpImpl from) {
    if (overflowed || destroyed) {
      return false;
    }
    if (!ring.offer(wc)) {
      overflow(from);
      return false;
    }
    boolean isSolicited = solicited || wc.status() != WcStatus.SUCCESS;
    for (int a = armed.get(); a != UNARMED; a = armed.get()) {
      if (a == ARMED_SOLICITED && !isSolicited) {
        break;
      }
      if (armed.compareAndSet(a, UNARMED)) {
        actor.tell(CqActor.NOTIFIED);
        break;
      }
    }
    return true;
  }

  /** Internal: a QP or SRQ now completes into this CQ. */
  public void retain() {
    usecnt.incrementAndGet();
  }

  /** Internal: a QP or SRQ no longer completes into this CQ. */
  public void release() {
    usecnt.decrementAndGet();
  }

  /** Internal: {@code qp} completes into this CQ (and fails with it if it overflows). */
  public void attach(QpImpl qp) {
    retain();
    qps.add(qp);
  }

  /** Internal: {@code qp} no longer completes into this CQ (called once per {@link #attach}). */
  public void detach(QpImpl qp) {
    qps.remove(qp);
    release();
  }

  /** The QPs that complete into this CQ. */
  Set<QpImpl> qps() {
    return qps;
  }

  private void overflow(QpImpl from) {
    overflowed = true;
    // Many pushers may overflow at once: exactly one of them reports it, and counts it on its QP (before the
    // actor moves the QPs to ERR, so whoever sees ERR sees the count).
    if (overflowReported.compareAndSet(false, true)) {
      if (from != null) {
        from.countCqOverflow();
      }
      dev.midlayer.internal.jfr.MidlayerEvents.cqOverflow(device().name(), number(), capacity());
      actor.tell(CqActor.OVERFLOWED);
    }
  }

  /** The CQ_ERR event for this CQ. */
  AsyncEvent cqErrorEvent() {
    return new AsyncEvent(device, AsyncEventType.CQ_ERR, new EventElement.OfCq(number));
  }

  CompletionHandler handler() {
    return handler;
  }

  EventHandler eventHandler() {
    return eventHandler;
  }

  // ---- lifetime ----

  @Override
  public CompletionStage<Done> destroy() {
    return DeviceResources.destroy(device, "destroyCq", this, () -> {
      int users = usecnt.get();
      if (users > 0) {
        throw new ResourceBusyException(describe() + " is in use by " + users + " QP(s)/SRQ(s)");
      }
      reclaim();
      return null;
    });
  }

  @Override
  public ClientId owner() {
    return owner;
  }

  @Override
  public String describe() {
    return "CQ #" + number + " (" + capacity() + " entries)";
  }

  @Override
  public void reclaim() {
    destroyed = true;
    actor.tell(CqActor.STOP);
    ring.clear();
  }

  /** The CQ's actor: destruction completes only when it has stopped, so no handler runs afterwards. */
  @Override
  public ActorRef<?> fence() {
    return actor;
  }

  /** True once destroyed (or reclaimed): no handler runs any more. */
  boolean destroyed() {
    return destroyed;
  }

  @Override
  public String toString() {
    return describe() + " on " + device.name();
  }
}
