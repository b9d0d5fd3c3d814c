package dev.midlayer.internal.verbs;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.ResourceBusyException;
import dev.midlayer.verbs.SharedReceiveQueue;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.jctools.queues.MpmcArrayQueue;

/**
 * Internal API. A {@link SharedReceiveQueue}: a lock-free ring with many consumers (the attached QPs' driver
 * actors), its occupancy count, and the armed limit.
 */
public final class SrqImpl implements SharedReceiveQueue, DeviceResource, SlotOwner {
  private final PdImpl pd;
  private final dev.midlayer.client.ClientId owner;
  private final int number;
  private final int maxWr;
  private final int maxSge;
  private final MpmcArrayQueue<PostedRecv> ring;
  /** Receives posted and not taken by a QP yet (what the limit watches). */
  private final AtomicInteger outstanding = new AtomicInteger();
  /** Slots occupied: receives posted whose completion was not polled yet (what maxWr bounds). */
  private final AtomicInteger occupied = new AtomicInteger();
  /** The armed limit; 0 = disarmed. */
  private final AtomicInteger limit;
  private final AtomicInteger attached = new AtomicInteger();
  private final EventHandler eventHandler;
  private final Object context;
  private final String eventCallbackName;
  /** Set by destroy (or reclaim): posts are refused from then on. */
  private volatile boolean destroyed;

  private SrqImpl(PdImpl pd, int number, SrqAttr attr, EventHandler eventHandler, Object context) {
    this.owner = pd.owner() != null ? pd.owner() : dev.midlayer.client.ClientContext.current();
    this.pd = pd;
    this.number = number;
    this.maxWr = attr.maxWr();
    this.maxSge = attr.maxSge();
    this.ring = new MpmcArrayQueue<>(Math.max(2, attr.maxWr()));
    this.limit = new AtomicInteger(attr.srqLimit());
    this.eventHandler = eventHandler;
    this.context = context;
    this.eventCallbackName = "event handler of SRQ #" + number + " on " + pd.device().name()
        + (owner == null ? "" : " (" + owner + ")");
  }

  static CompletionStage<SharedReceiveQueue> create(PdImpl pd, SrqAttr attr, EventHandler eventHandler,
      Object context) {
    InvalidArgumentException.requireNonNull(attr, "attr");
    var a = pd.device().attributes();
    if (attr.maxWr() < 1 || attr.maxWr() > a.maxSrqWr()) {
      throw new InvalidArgumentException("attr.maxWr", "must be 1.." + a.maxSrqWr() + ", was " + attr.maxWr());
    }
    if (attr.maxSge() < 0 || attr.maxSge() > a.maxSrqSge()) {
      throw new InvalidArgumentException("attr.maxSge", "must be 0.." + a.maxSrqSge() + ", was " + attr.maxSge());
    }
    if (attr.srqLimit() < 0 || attr.srqLimit() > attr.maxWr()) {
      throw new InvalidArgumentException("attr.srqLimit", "must be 0..maxWr, was " + attr.srqLimit());
    }
    return DeviceResources.create(pd.device(), "createSrq", spawners -> {
      pd.retain(); // fails if the PD was deallocated meanwhile
      return new SrqImpl(pd, pd.device().verbs().nextSrqNumber(), attr, eventHandler, context);
    });
  }

  @Override
  public PdImpl pd() {
    return pd;
  }

  @Override
  public DeviceImpl device() {
    return pd.device();
  }

  @Override
  public int number() {
    return number;
  }

  @Override
  public Object context() {
    return context;
  }

  @Override
  public SrqAttr query() {
    return new SrqAttr(maxWr, maxSge, limit.get());
  }

  @Override
  public int outstanding() {
    return outstanding.get();
  }

  @Override
  public void postRecv(RecvWr wr) {
    dev.midlayer.monitor.ContractMonitor m = pd.device().monitor();
    if (m == null) {
      postOne(wr, 0, null);
      return;
    }
    m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_SRQ_RECV, this, pd.device(), owner());
    try {
      postOne(wr, 0, m);
    } finally {
      m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_SRQ_RECV);
    }
  }

  @Override
  public void postRecv(List<RecvWr> wrs) {
    dev.midlayer.monitor.ContractMonitor m = pd.device().monitor();
    if (m != null) {
      m.verbEntered(dev.midlayer.monitor.NonSleepingVerb.POST_SRQ_RECV, this, pd.device(), owner());
    }
    try {
      for (int i = 0; i < wrs.size(); i++) {
        postOne(wrs.get(i), i, m);
      }
    } finally {
      if (m != null) {
        m.verbExited(dev.midlayer.monitor.NonSleepingVerb.POST_SRQ_RECV);
      }
    }
  }

  private void postOne(RecvWr wr, int index, dev.midlayer.monitor.ContractMonitor m) {
    if (wr == null) {
      throw new PostException(PostException.Reason.INVALID, index, "null work request");
    }
    if (destroyed) {
      pd.device().checkUsable("postSrqRecv");
      throw new PostException(PostException.Reason.INVALID, index, describe() + " was destroyed");
    }
    if (wr.sgList().size() > maxSge) {
      throw new PostException(PostException.Reason.INVALID, index,
          wr.sgList().size() + " SGEs exceed the SRQ's maxSge " + maxSge);
    }
    int o;
    do {
      o = occupied.get();
      if (o >= maxWr) {
        throw new PostException(PostException.Reason.QUEUE_FULL, index,
            "SRQ #" + number + " is full (" + maxWr + " outstanding)");
      }
    } while (!occupied.compareAndSet(o, o + 1));
    outstanding.incrementAndGet();
    PostedRecv posted = new PostedRecv(wr);
    if (m != null) {
      m.ledger().posted(this, describe() + " on " + pd.device().name(), owner(), posted, true);
    }
    ring.offer(posted);
  }

  @Override
  public CompletionStage<Done> modify(SrqAttr attr, int mask) {
    InvalidArgumentException.requireNonNull(attr, "attr");
    if ((mask & SrqAttr.MAX_WR) != 0) {
      throw new InvalidArgumentException("mask", "resizing an SRQ (MAX_WR) is not supported");
    }
    if ((mask & ~SrqAttr.LIMIT) != 0) {
      throw new InvalidArgumentException("mask", String.format("unknown SRQ attribute bits 0x%x", mask));
    }
    if (attr.srqLimit() < 0 || attr.srqLimit() > maxWr) {
      throw new InvalidArgumentException("attr.srqLimit", "must be 0.." + maxWr + ", was " + attr.srqLimit());
    }
    return DeviceResources.run(pd.device(), "modifySrq", () -> {
      limit.set(attr.srqLimit());
      return Done.getInstance();
    });
  }

  @Override
  public CompletionStage<Done> destroy() {
    return DeviceResources.destroy(pd.device(), "destroySrq", this, () -> {
      int users = attached.get();
      if (users > 0) {
        throw new ResourceBusyException(describe() + " has " + users + " QP(s) attached");
      }
      reclaim();
      return null;
    });
  }

  // ---- driver side ----

  /**
   * For the attached QPs' drivers: takes the oldest receive WR, or null. If that takes the count below the armed limit, the
   * limit disarms and SRQ_LIMIT_REACHED goes to the SRQ's event handler, once, later, from the device's
   * event actor. Lock-free; many consumers.
   */
  public PostedRecv take() {
    PostedRecv wr = ring.poll();
    if (wr == null) {
      return null;
    }
    int left = outstanding.decrementAndGet();
    int armed = limit.get();
    if (armed > 0 && left < armed && limit.compareAndSet(armed, 0) && eventHandler != null) {
      // Delivered later by the device's event actor, never on the taking driver's thread.
      AsyncEvent event = new AsyncEvent(pd.device(), AsyncEventType.SRQ_LIMIT_REACHED, new EventElement.OfSrq(number));
      pd.device().raise(event, eventHandler, eventCallbackName, owner(), () -> !destroyed);
    }
    return wr;
  }

  @Override
  public void release(int epoch, int slots) {
    occupied.addAndGet(-slots);
  }

  void attach() {
    attached.incrementAndGet();
  }

  void detach() {
    attached.decrementAndGet();
  }

  @Override
  public dev.midlayer.client.ClientId owner() {
    return owner;
  }

  @Override
  public String describe() {
    return "SRQ #" + number;
  }

  @Override
  public void reclaim() {
    destroyed = true;
    ring.clear();
    pd.release();
  }

  @Override
  public String toString() {
    return describe() + " on " + pd.device().name();
  }
}
