package dev.midlayer.internal.verbs;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.ResourceBusyException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import org.apache.pekko.Done;

/**
 * Internal API. What the three kinds of {@link MemoryRegion} share: the protection domain, the mapping their
 * keys resolve to (replaced whole, never changed in place, so a transfer sees one consistent snapshot), and
 * deregistration behind the memory fence. One class per kind: {@link UserMr}, {@link FastRegMr},
 * {@link FmrRegion}. The methods of another kind refuse with the errors documented on {@link MemoryRegion}.
 */
public abstract sealed class MrImpl implements DeviceResource permits UserMr, FastRegMr, FmrRegion {
  final PdImpl pd;
  private final dev.midlayer.client.ClientId owner;
  /** What the keys resolve to now; null once destroyed. */
  final AtomicReference<MrMapping> mapping = new AtomicReference<>();
  /** The mapping before deregistration, so that the getters still answer afterwards. */
  volatile MrMapping last;

  MrImpl(PdImpl pd) {
    this.owner = pd.owner() != null ? pd.owner() : dev.midlayer.client.ClientContext.current();
    this.pd = pd;
  }

  /** Runs on the device actor: reserves a key, makes the region, and publishes it in the key table. */
  static <T extends MrImpl> T allocate(PdImpl pd, String verb, IntFunction<T> make) {
    pd.retain(); // fails if the PD was deallocated meanwhile
    KeyTable keys = pd.device().verbs().keys();
    int key = keys.allocate();
    if (key < 0) {
      pd.release();
      throw new ResourceBusyException(verb + ": device " + pd.device().name() + " has no free memory key (maxMr "
          + pd.device().attributes().maxMr() + ")");
    }
    T mr = make.apply(key);
    keys.publish(key, mr);
    return mr;
  }

  public PdImpl pd() {
    return pd;
  }

  public DeviceImpl device() {
    return pd.device();
  }

  public int access() {
    MrMapping m = mapping.get();
    return m == null || !m.isValid() ? 0 : m.access();
  }

  public boolean isValid() {
    MrMapping m = mapping.get();
    return m != null && m.isValid();
  }

  public boolean contains(long addr, long len) {
    MrMapping m = mapping.get();
    return m != null && m.isValid() && m.contains(addr, len);
  }

  public int maxPages() {
    return 0;
  }

  public ByteBuffer buffer() {
    throw new UnsupportedOperationException(describe() + " has no single buffer: its bytes are the pages mapped");
  }

  public int pageCount() {
    return 0;
  }

  public Page page(int index) {
    throw new InvalidArgumentException("index", describe() + " is not a registered buffer: only USER regions lend pages");
  }

  public void mapPages(List<Page> pages, long iova, long length) {
    throw new InvalidArgumentException("mr", describe() + " is not a fast-registration region (allocMr)");
  }

  public int updateFastRegKey(int key8) {
    throw new InvalidArgumentException("mr", describe() + " is not a fast-registration region (allocMr)");
  }

  /** How the region was made. */
  public abstract dev.midlayer.verbs.MrType type();

  /** The local key (see {@link MemoryRegion#lkey()}). */
  public abstract int lkey();

  /** The current mapping (VALID or not), null once destroyed. */
  public MrMapping mapping() {
    return mapping.get();
  }

  /** The mapping now, or the last one before deregistration. */
  MrMapping mappingOrLast() {
    MrMapping m = mapping.get();
    return m != null ? m : last;
  }

  /** Replaces the mapping if it is still {@code expected} (FMR map/unmap). */
  boolean swapMapping(MrMapping expected, MrMapping next) {
    return mapping.compareAndSet(expected, next);
  }

  /**
   * LOCAL_INV or SEND_WITH_INV of {@code key} ({@code rxe_invalidate_mr}): only fast-registration regions
   * can be invalidated.
   */
  MemoryOpResult invalidate(int key) {
    return MemoryOpResult.refused(MemoryOpResult.Refusal.NOT_FAST_REG,
        describe() + " is not a fast-registration region: only those can be invalidated");
  }

  public CompletionStage<Done> deregister() {
    return DeviceResources.destroy(pd.device(), "deregisterMr", this, () -> {
      reclaim();
      awaitTransfers(pd.device());
      return null;
    });
  }

  /**
   * Device actor: waits until the driver's transfers that may have resolved a key before it stopped
   * working are finished ({@link DeviceOps.MemoryFence}), so that the may-sleep verb that stopped it
   * completes only when nothing touches the old pages any more.
   */
  static void awaitTransfers(DeviceImpl device) throws Exception {
    DeviceOps.MemoryFence fence = device.ops().memoryFence();
    if (fence != null) {
      fence.await();
    }
  }

  @Override
  public boolean holdsMemory() {
    return true;
  }

  /** Whether the consumer chose the low 8 bits of this region's keys (fast registration). */
  boolean consumerKeyVariants() {
    return false;
  }

  @Override
  public void reclaim() {
    MrMapping m = mapping.getAndSet(null);
    if (m != null) {
      last = m;
      pd.device().verbs().keys().release(m.lkey(), consumerKeyVariants());
      pd.release();
    }
  }

  /** Validates a page list and builds its mapping (shared by fast registration and FMRs). */
  static MrMapping checkedMapping(MrImpl mr, List<Page> pages, long iova, long length, int maxPages,
      int key, int access, int maps) {
    PageImpl.checkAll(pages, mr.device(), "pages");
    if (pages.isEmpty() || pages.size() > maxPages) {
      throw new InvalidArgumentException("pages", pages.size() + " pages; the region takes 1 to " + maxPages);
    }
    long offset = iova & (Page.SIZE - 1);
    long room = (long) pages.size() * Page.SIZE - offset;
    if (length < 1 || length > room) {
      throw new InvalidArgumentException("length", length + " bytes; " + pages.size() + " page(s) from offset "
          + offset + " hold 1 to " + room);
    }
    if (length > mr.device().attributes().maxMrSize()) {
      throw new InvalidArgumentException("length", length + " bytes exceed maxMrSize " + mr.device().attributes().maxMrSize());
    }
    long end = iova + length; // I/O virtual addresses are unsigned 64-bit; ending exactly at 2^64 is fine
    if (end != 0 && Long.compareUnsigned(end, iova) < 0) {
      throw new InvalidArgumentException("iova", String.format("0x%x + %d runs past the top of the address space",
          iova, length));
    }
    PageImpl[] array = new PageImpl[pages.size()];
    for (int i = 0; i < array.length; i++) {
      array[i] = (PageImpl) pages.get(i);
    }
    return MrMapping.paged(mr, key, access, iova, length, array, maps);
  }

  @Override
  public dev.midlayer.client.ClientId owner() {
    return owner;
  }

  @Override
  public String toString() {
    return describe() + " on " + pd.device().name();
  }
}
