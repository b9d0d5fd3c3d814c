package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.SrqAttr;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;

/**
 * A protection domain ({@code struct ib_pd}): memory regions, address handles and QPs created in it may
 * only be used together. Created with {@link Device#allocPd()}.
 *
 * <p>Threading: every method is safe from any thread. {@link #registerMr} and {@link #dealloc} <b>may
 * sleep</b> (they run on the device actor; not from atomic context). {@link #createAh} never blocks and
 * may be called from any context, callbacks included.
 */
public final class ProtectionDomain implements DeviceResource {
  private final Device device;
  private final int handle;
  /** Objects created in this PD and not destroyed yet (MRs, AHs, QPs, SRQs); {@link #DEAD} once deallocated. */
  private final AtomicInteger usecnt = new AtomicInteger();
  private static final int DEAD = Integer.MIN_VALUE / 2;

  private ProtectionDomain(Device device, int handle) {
    this.device = device;
    this.handle = handle;
  }

  /** Internal: use {@link Device#allocPd()}. */
  public static CompletionStage<ProtectionDomain> alloc(Device device) {
    return DeviceResources.create(device, "allocPd",
        spawner -> new ProtectionDomain(device, DeviceVerbs.of(device).nextPdHandle()));
  }

  /** The device the PD belongs to. */
  public Device device() {
    return device;
  }

  /** The PD's number on its device. */
  public int handle() {
    return handle;
  }

  /** How many objects use the PD now (0 once deallocated). Never blocks; any thread. */
  public int useCount() {
    return Math.max(0, usecnt.get());
  }

  /**
   * Registers the bytes of {@code buffer} from its position to its limit ({@code ib_reg_mr}), direct or
   * heap, as a memory region with {@code access} rights ({@link AccessFlags}). The region shares the
   * buffer's content (not a copy); the buffer's position and limit are not used afterwards.
   * <b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException if the buffer is null or empty, larger than the device's
   *     {@code maxMrSize}, read-only while write access is asked for, or the access flags are invalid
   *     (REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE, unknown bits)
   * @return a stage that fails with {@link ResourceBusyException} if the device has no free key
   */
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
    return DeviceResources.create(device, "registerMr", spawner -> MemoryRegion.register(this, region, access));
  }

  /**
   * Allocates a fast-registration region ({@code ib_alloc_mr(pd, IB_MR_TYPE_MEM_REG, maxPages)}) in state
   * FREE: map pages with {@link MemoryRegion#mapPages} and post a {@link WrOpcode#REG_MR} to make it VALID.
   * <b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException if {@code maxPages} is not 1 to the device's {@code maxFastRegPageListLen}
   * @return a stage that fails with {@link ResourceBusyException} if the device has no free memory key
   */
  public CompletionStage<MemoryRegion> allocMr(int maxPages) {
    checkAlive("allocMr");
    int limit = device.attributes().maxFastRegPageListLen();
    if (maxPages < 1 || maxPages > limit) {
      throw new InvalidArgumentException("maxPages", maxPages + " is not 1.." + limit + " (maxFastRegPageListLen)");
    }
    return DeviceResources.create(device, "allocMr",
        spawner -> MemoryRegion.allocPaged(this, MrType.MEM_REG, maxPages, "allocMr"));
  }

  /**
   * Allocates a fast memory region ({@code ib_alloc_fmr}) with rights {@code access} for maps of up to
   * {@code maxPages} pages; it starts unmapped. <b>May sleep</b>: not from atomic context (from a handler it
   * throws {@link dev.midlayer.context.IllegalContextException}). Mapping it ({@link Fmr#mapPhys}) never
   * sleeps.
   *
   * @throws InvalidArgumentException if the access flags are invalid or {@code maxPages} is not 1 to the
   *     device's {@code maxFastRegPageListLen}
   * @return a stage that fails with {@link ResourceBusyException} if the device has {@code maxFmr} FMRs
   *     already or no free memory key
   */
  public CompletionStage<Fmr> allocFmr(int access, int maxPages) {
    checkAlive("allocFmr");
    AccessFlags.validateMr(access, "access");
    int limit = device.attributes().maxFastRegPageListLen();
    if (maxPages < 1 || maxPages > limit) {
      throw new InvalidArgumentException("maxPages", maxPages + " is not 1.." + limit + " (maxFastRegPageListLen)");
    }
    return DeviceResources.create(device, "allocFmr", spawner -> Fmr.alloc(this, access, maxPages));
  }

  /**
   * Creates an address handle ({@code rdma_create_ah} without the sleepable flag): the path to a remote
   * port, for UD work requests. <b>Never blocks; callable from any thread and any context</b>,
   * completion and event handlers included.
   *
   * @throws InvalidArgumentException if the attributes do not fit the device (port, GID index, GRH)
   */
  public AddressHandle createAh(AhAttr attr) {
    DeviceResources.checkUsable(device, "createAh");
    InvalidArgumentException.requireNonNull(attr, "attr");
    attr.validate(device.name(), device.portCount(), device::cachedPort);
    retain();
    return new AddressHandle(this, DeviceVerbs.of(device).nextAhHandle(), attr);
  }

  /**
   * Creates a queue pair in this PD ({@code ib_create_qp}) in state RESET. The capabilities are checked
   * against the device's limits. <b>May sleep</b>: not from atomic context.
   *
   * @throws InvalidArgumentException for a missing CQ, a CQ of another device, or capabilities out of range
   * @throws dev.midlayer.spi.MissingDriverOpException if the device's driver has no create_qp
   */
  public CompletionStage<QueuePair> createQp(QpInitAttr init) {
    checkAlive("createQp");
    return QueuePair.create(this, init);
  }

  /**
   * Creates a shared receive queue in this PD ({@code ib_create_srq}). <b>May sleep</b>: not from atomic
   * context.
   *
   * @param eventHandler receives SRQ_LIMIT_REACHED and SRQ_ERR, or null
   * @throws InvalidArgumentException if maxWr, maxSge or the limit are out of range
   */
  public CompletionStage<SharedReceiveQueue> createSrq(SrqAttr attr, dev.midlayer.device.EventHandler eventHandler,
      Object context) {
    checkAlive("createSrq");
    return SharedReceiveQueue.create(this, attr, eventHandler, context);
  }

  /**
   * Deallocates the PD ({@code ib_dealloc_pd}). <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link ResourceBusyException} while objects still use the PD, and
   *     with {@link dev.midlayer.registry.NotRegisteredException} if it was deallocated already
   */
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
  void retain() {
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
  void checkAlive(String verb) {
    DeviceResources.checkUsable(device, verb); // an unregistered device is the better explanation
    if (usecnt.get() < 0) {
      throw new ObjectDestroyedException(verb + ": " + describe() + " on " + device.name() + " was deallocated");
    }
  }

  void release() {
    usecnt.decrementAndGet();
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
