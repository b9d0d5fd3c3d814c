package dev.midlayer.internal.verbs;

import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.EventHandler;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ObjectDestroyedException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.ResourceBusyException;
import dev.midlayer.verbs.SharedReceiveQueue;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.SrqAttr;
import java.nio.ByteBuffer;
import org.jctools.maps.NonBlockingHashSet;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;

/** Internal API. A {@link ProtectionDomain}: its handle, its use count, and the verbs that create objects in it. */
public final class PdImpl implements ProtectionDomain, DeviceResource {
  private final DeviceImpl device;
  private final int handle;
  /** Objects created in this PD and not destroyed yet (MRs, AHs, QPs, SRQs); {@link #DEAD} once deallocated. */
  private final AtomicInteger usecnt = new AtomicInteger();
  private static final int DEAD = Integer.MIN_VALUE / 2;

  private final ClientId owner = ClientContext.current();
  /** The live address handles made in this PD (a lock-free set: createAh never blocks). */
  private final NonBlockingHashSet<AhImpl> ahs = new NonBlockingHashSet<>();

  private PdImpl(DeviceImpl device, int handle) {
    this.device = device;
    this.handle = handle;
  }

  /** {@code ib_alloc_pd}; see {@link dev.midlayer.device.Device#allocPd()}. */
  public static CompletionStage<ProtectionDomain> alloc(DeviceImpl device) {
    return DeviceResources.create(device, "allocPd", spawners -> new PdImpl(device, device.verbs().nextPdHandle()));
  }

  @Override
  public DeviceImpl device() {
    return device;
  }

  @Override
  public int handle() {
    return handle;
  }

  @Override
  public int useCount() {
    return Math.max(0, usecnt.get());
  }

  @Override
  public CompletionStage<MemoryRegion> registerMr(ByteBuffer buffer, int access) {
    checkAlive("registerMr");
    InvalidArgumentException.requireNonNull(buffer, "buffer");
    AccessFlags.validateMr(access, "access");
    long length = buffer.remaining();
    if (length == 0) {
      throw new InvalidArgumentException("buffer", "has no bytes between position and limit");
    }
    if (length > device.attributes().maxMrSize()) {
      throw new InvalidArgumentException("buffer", length + " bytes exceed maxMrSize "
          + device.attributes().maxMrSize());
    }
    if (buffer.isReadOnly() && (access & (AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE
        | AccessFlags.REMOTE_ATOMIC)) != 0) {
      throw new InvalidArgumentException("buffer", "is read-only but access " + AccessFlags.toString(access)
          + " allows writes");
    }
    ByteBuffer region = buffer.slice();
    return DeviceResources.create(device, "registerMr", spawners -> UserMr.register(this, region, access));
  }

  @Override
  public CompletionStage<MemoryRegion> allocMr(int maxPages) {
    checkAlive("allocMr");
    int limit = device.attributes().maxFastRegPageListLen();
    if (maxPages < 1 || maxPages > limit) {
      throw new InvalidArgumentException("maxPages", maxPages + " is not 1.." + limit + " (maxFastRegPageListLen)");
    }
    return DeviceResources.create(device, "allocMr",
        spawners -> FastRegMr.alloc(this, maxPages));
  }

  @Override
  public CompletionStage<Fmr> allocFmr(int access, int maxPages) {
    checkAlive("allocFmr");
    AccessFlags.validateMr(access, "access");
    int limit = device.attributes().maxFastRegPageListLen();
    if (maxPages < 1 || maxPages > limit) {
      throw new InvalidArgumentException("maxPages", maxPages + " is not 1.." + limit + " (maxFastRegPageListLen)");
    }
    return DeviceResources.create(device, "allocFmr", spawners -> FmrImpl.alloc(this, access, maxPages));
  }

  @Override
  public AddressHandle createAh(AhAttr attr) {
    dev.midlayer.monitor.ContractMonitor m = device.monitor();
    return m == null ? createAhNow(attr) : NonSleepingVerbs.watched(m,
        dev.midlayer.monitor.NonSleepingVerb.CREATE_AH, this, device, owner, () -> createAhNow(attr));
  }

  private AddressHandle createAhNow(AhAttr attr) {
    device.checkUsable("createAh");
    InvalidArgumentException.requireNonNull(attr, "attr");
    attr.validate(device.name(), device.portCount(), device::cachedPort);
    retain();
    AhImpl ah = new AhImpl(this, device.verbs().nextAhHandle(), attr);
    ahs.add(ah);
    return ah;
  }

  @Override
  public CompletionStage<QueuePair> createQp(QpInitAttr init) {
    checkAlive("createQp");
    return QpImpl.create(this, init);
  }

  @Override
  public CompletionStage<SharedReceiveQueue> createSrq(SrqAttr attr, EventHandler eventHandler,
      Object context) {
    checkAlive("createSrq");
    return SrqImpl.create(this, attr, eventHandler, context);
  }

  @Override
  public CompletionStage<Done> dealloc() {
    return DeviceResources.destroy(device, "deallocPd", this, () -> {
      // One atomic step, so that a concurrent non-sleeping createAh either counts before it or fails after.
      if (!usecnt.compareAndSet(0, DEAD)) {
        throw new ResourceBusyException(describe() + " is in use by " + usecnt.get() + " object(s)");
      }
      return null;
    });
  }

  /** Counts one more user; fails if the PD was deallocated. Lock-free. */
  public void retain() {
    for (int c = usecnt.get(); ; c = usecnt.get()) {
      if (c < 0) {
        throw new ObjectDestroyedException(describe() + " on " + device.name() + " was deallocated");
      }
      if (usecnt.compareAndSet(c, c + 1)) {
        return;
      }
    }
  }

  /** Throws if the PD was deallocated. */
  public void checkAlive(String verb) {
    device.checkUsable(verb); // an unregistered device is the better explanation
    if (usecnt.get() < 0) {
      throw new ObjectDestroyedException(verb + ": " + describe() + " on " + device.name() + " was deallocated");
    }
  }

  /** An address handle of this PD was destroyed. Lock-free. */
  void forget(AhImpl ah) {
    ahs.remove(ah);
  }

  @Override
  public java.util.List<String> reclaimDependents() {
    java.util.List<String> gone = new java.util.ArrayList<>();
    for (AhImpl ah : ahs) {
      if (ah.destroyIfValid()) {
        gone.add(ah.toString());
      }
    }
    return gone;
  }

  public void release() {
    usecnt.decrementAndGet();
  }

  @Override
  public ClientId owner() {
    return owner;
  }

  @Override
  public String describe() {
    return "PD #" + handle;
  }

  @Override
  public void reclaim() {
    // The objects in it were reclaimed before it (newest first); mark it dead for late callers.
    usecnt.set(DEAD);
  }

  @Override
  public String toString() {
    return describe() + " on " + device.name();
  }
}
