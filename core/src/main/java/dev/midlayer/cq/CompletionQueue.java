package dev.midlayer.cq;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.internal.NonFatal;
import dev.midlayer.verbs.QueuePair;
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
 * A completion queue ({@code struct ib_cq}). The queue is a bounded lock-free ring owned by the midlayer
 * (JCTools {@code MpmcArrayQueue}): drivers add completions with {@link #push}, consumers take them with
 * {@link #poll}. Each CQ has its own actor, which runs the completion handler (or, for
 * {@link PollContext#ACTOR}, the per-WR {@link Cqe#done} callbacks) one call at a time, always by a
 * message and never from inside a verb's call chain.
 *
 * <p>Threading: {@link #poll}, {@link #requestNotify}, {@link #processDirect} and {@link #push}
 * <b>never block and may be called from any thread, concurrently</b>, callbacks included; each completion
 * is returned to exactly one poller (which poller gets which is not defined). {@link #destroy()}
 * <b>may sleep</b> (not from atomic context).
 *
 * <p>Overflow: a completion that does not fit is never dropped silently and never waited for:
 * {@link #push} returns false, the CQ enters error, its event handler gets {@code CQ_ERR}, and every QP
 * that completes into it moves to ERR and gets {@code QP_FATAL}.
 */
public final class CompletionQueue implements DeviceResource {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CompletionQueue.class);

  /** Completions per poll in the actor's batches ({@code IB_POLL_BATCH}). */
  public static final int POLL_BATCH = 16;

  private static final int UNARMED = 0;
  private static final int ARMED_SOLICITED = 1;
  private static final int ARMED_NEXT = 2;

  private final Device device;
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
  private final Set<QueuePair> qps = ConcurrentHashMap.newKeySet();
  private volatile boolean overflowed;
  private final java.util.concurrent.atomic.AtomicBoolean overflowReported = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile boolean destroyed;
  private ActorRef<CqActor.Command> actor;

  private CompletionQueue(Device device, int number, int cqe, PollContext pollContext, CompletionHandler handler,
      EventHandler eventHandler, Object context) {
    this.device = device;
    this.number = number;
    this.ring = new MpmcArrayQueue<>(Math.max(2, cqe));
    this.pollContext = pollContext;
    this.handler = handler;
    this.eventHandler = eventHandler;
    this.context = context;
  }

  /**
   * Internal: use {@link Device#createCq}. Creates a CQ with a completion handler (the legacy
   * {@code ib_create_cq}).
   */
  public static CompletionStage<CompletionQueue> create(Device device, int cqe, CompletionHandler handler,
      EventHandler eventHandler, Object context) {
    checkDepth(device, cqe);
    return DeviceResources.create(device, "createCq", spawner -> start(
        new CompletionQueue(device, number(device), cqe, null, handler, eventHandler, context), spawner, budget(device)));
  }

  /** Internal: use {@link Device#allocCq}. Creates a CQ polled per {@code pollContext} ({@code ib_alloc_cq}). */
  public static CompletionStage<CompletionQueue> alloc(Device device, int cqe, PollContext pollContext,
      EventHandler eventHandler) {
    checkDepth(device, cqe);
    InvalidArgumentException.requireNonNull(pollContext, "pollContext");
    return DeviceResources.create(device, "allocCq", spawner -> {
      CompletionQueue cq = start(new CompletionQueue(device, number(device), cqe, pollContext, null, eventHandler,
          null), spawner, budget(device));
      if (pollContext == PollContext.ACTOR) {
        cq.requestNotify(CqNotify.NEXT_COMP, false);
      }
      return cq;
    });
  }

  private static CompletionQueue start(CompletionQueue cq, DeviceResources.Spawner spawner, int budget) {
    cq.actor = spawner.spawnDataPath(CqActor.create(cq, budget), "cq-" + cq.number);
    return cq;
  }

  private static int number(Device device) {
    return dev.midlayer.verbs.DeviceVerbs.of(device).nextCqNumber();
  }

  private static int budget(Device device) {
    return DeviceResources.settings(device).cqPollBudget();
  }

  private static void checkDepth(Device device, int cqe) {
    int max = device.attributes().maxCqe();
    if (cqe < 1 || cqe > max) {
      throw new InvalidArgumentException("cqe", "must be 1.." + max + " (the device's maxCqe), was " + cqe);
    }
  }

  /** The device. */
  public Device device() {
    return device;
  }

  /** The CQ's number on its device (the element of its CQ_ERR events). */
  public int number() {
    return number;
  }

  /** How many completions fit: the requested depth rounded up to a power of two. */
  public int capacity() {
    return ring.capacity();
  }

  /** The context given at creation ({@code cq_context}), or null. */
  public Object context() {
    return context;
  }

  /** The poll context for CQs made with {@link #alloc}; null for CQs with a completion handler. */
  public PollContext pollContext() {
    return pollContext;
  }

  /** How many completions are waiting ({@code ib_peek_cq}), approximate under concurrency. Never blocks. */
  public int peek() {
    return ring.size();
  }

  /** True once a completion did not fit: the CQ is in error. */
  public boolean overflowed() {
    return overflowed;
  }

  // ---- consumer side: non-sleeping, any context ----

  /**
   * Takes up to {@code max} completions into {@code out} from index 0 ({@code ib_poll_cq}) and returns how
   * many. Completions of one work queue come out in posting order; concurrent pollers each get different
   * completions. <b>Never blocks; any thread and any context.</b>
   */
  public int poll(WorkCompletion[] out, int max) {
    int n = Math.min(max, out.length);
    int taken = 0;
    while (taken < n) {
      WorkCompletion wc = ring.poll();
      if (wc == null) {
        break;
      }
      out[taken++] = wc;
    }
    return taken;
  }

  /** Same as {@code poll(out, out.length)}. */
  public int poll(WorkCompletion[] out) {
    return poll(out, out.length);
  }

  /** One completion, or null if none is waiting. <b>Never blocks; any thread and any context.</b> */
  public WorkCompletion poll() {
    return ring.poll();
  }

  /**
   * Arms the CQ for one notification ({@code ib_req_notify_cq}): the completion handler (or, for
   * {@link PollContext#ACTOR}, the actor's polling) runs once when a matching completion is added, and
   * the CQ is disarmed as it fires. Arming NEXT_COMP over SOLICITED upgrades it; SOLICITED never
   * downgrades NEXT_COMP. <b>Never blocks; any thread and any context.</b>
   *
   * <p>The race-free idiom: poll until empty; then {@code requestNotify(..., true)}; if it returns true,
   * poll again, since completions may have arrived between the last poll and the arming.
   *
   * @param reportMissedEvents if true, return whether completions are waiting now
   * @return with {@code reportMissedEvents}: true if completions may have been missed (poll again); false
   *     when it is safe to wait for the handler. Always false without it.
   */
  public boolean requestNotify(CqNotify which, boolean reportMissedEvents) {
    int want = which == CqNotify.NEXT_COMP ? ARMED_NEXT : ARMED_SOLICITED;
    armed.accumulateAndGet(want, Math::max);
    // The arm (a volatile write) comes before this read; push's offer comes before its read of `armed`.
    // So either the pusher sees the arm and notifies, or we see its completion here.
    return reportMissedEvents && !ring.isEmpty();
  }

  /**
   * Polls up to {@code budget} completions in the caller's thread and calls each one's {@link Cqe#done}
   * ({@code ib_process_cq_direct}); for {@link PollContext#DIRECT} CQs. Returns how many were processed.
   * Completions without a {@code Cqe} are skipped. <b>Never blocks by itself</b>; the callbacks run in the
   * caller's context.
   */
  public int processDirect(int budget) {
    int done = 0;
    WorkCompletion wc;
    while (done < budget && (wc = ring.poll()) != null) {
      done++;
      if (wc.cqe() != null) {
        try {
          wc.cqe().done(this, wc);
        } catch (Throwable e) {
          // One callback's failure (checked exceptions included) must not strand the completions after it.
          LOG.error("done callback of wr_id {} on {} threw", wc.wrId(), this, NonFatal.rethrowIfFatal(e));
        }
      }
    }
    return done;
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
    if (overflowed || destroyed) {
      return false;
    }
    if (!ring.offer(wc)) {
      overflow();
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
  public void attach(QueuePair qp) {
    retain();
    qps.add(qp);
  }

  /** Internal: {@code qp} no longer completes into this CQ (called once per {@link #attach}). */
  public void detach(QueuePair qp) {
    qps.remove(qp);
    release();
  }

  /** The QPs that complete into this CQ. */
  Set<QueuePair> qps() {
    return qps;
  }

  private void overflow() {
    overflowed = true;
    // Many pushers may overflow at once: exactly one of them reports it.
    if (overflowReported.compareAndSet(false, true)) {
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

  /**
   * Destroys the CQ ({@code ib_destroy_cq}); completions still in it are dropped and its actor stops.
   * <b>May sleep</b>: not from atomic context (so never from its own handler).
   *
   * @return a stage that fails with {@link ResourceBusyException} while QPs or SRQs use the CQ
   */
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
