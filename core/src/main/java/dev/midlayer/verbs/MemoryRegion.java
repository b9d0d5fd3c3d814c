package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;

/**
 * A memory region ({@code struct ib_mr}): bytes that work requests may read and write, addressed by I/O
 * virtual address (unsigned 64-bit) and protected by keys: the {@link #lkey()} for local SGEs, the
 * {@link #rkey()} (non-zero only if a remote right was granted) for peers. Each key is 24 bits of index
 * and 8 bits of variant; a region that is deregistered, invalidated or remapped changes or drops its key,
 * and {@link KeyTable} hands a key out again only after tens of thousands of uses of its slot, so a stale
 * key does not work again.
 *
 * <p>Two kinds ({@link #type()}):
 * <ul>
 *   <li>{@link MrType#USER} ({@link ProtectionDomain#registerMr}): one {@link ByteBuffer}, iova
 *       {@link #iova()} to {@code iova() + length() - 1}, VALID until deregistered. Its pages
 *       ({@link #page(int)}) are what fast registration and FMRs map.
 *   <li>{@link MrType#MEM_REG} ({@link ProtectionDomain#allocMr}): fast registration (FRWR). It starts
 *       FREE. Per I/O: {@link #updateFastRegKey} (a new key variant, so stale rkeys fail),
 *       {@link #mapPages} (the page list), then post a {@link WrOpcode#REG_MR}
 *       ({@link SendWr.Builder#reg}) which makes it VALID with the key and rights of the request; a
 *       {@link WrOpcode#LOCAL_INV} or a peer's {@link WrOpcode#SEND_WITH_INV} of its key makes it FREE again.
 *       A REG_MR that cannot execute completes with {@link WcStatus#LOC_QP_OP_ERR} and moves the QP to
 *       ERR, as in rxe: the region is VALID already, is not a MEM_REG region, is of another PD than the
 *       QP, had no page list when the REG_MR was posted, or the key's upper 24 bits are not the region's.
 * </ul>
 *
 * <p>Threading: the getters, {@link #buffer()}, {@link #page(int)}, {@link #mapPages} and
 * {@link #updateFastRegKey} never block and may be called from any thread. {@link #deregister()} <b>may
 * sleep</b> (not from atomic context).
 */
public final class MemoryRegion implements DeviceResource {
  private final ProtectionDomain pd;
  private final MrType type;
  private final ByteBuffer buffer; // USER only
  private final long userIova; // USER only
  private final int maxPages; // MEM_REG and FMR
  /** What the keys resolve to now; null once destroyed. Replaced whole, never changed in place. */
  private final AtomicReference<MrMapping> mapping = new AtomicReference<>();
  /** MEM_REG: the consumer's key ({@code mr->lkey == mr->rkey}), changed by updateFastRegKey. */
  private volatile int softKey;
  /** MEM_REG: the page list of the last mapPages, taken by the next REG_MR posted. */
  private volatile MrMapping staged;
  /** The mapping before deregistration, so that the getters still answer afterwards. */
  private volatile MrMapping last;

  private MemoryRegion(ProtectionDomain pd, MrType type, ByteBuffer buffer, long userIova, int maxPages) {
    this.pd = pd;
    this.type = type;
    this.buffer = buffer;
    this.userIova = userIova;
    this.maxPages = maxPages;
  }

  /** Runs on the device actor: a USER region over {@code region}. */
  static MemoryRegion register(ProtectionDomain pd, ByteBuffer region, int access) {
    return allocate(pd, "registerMr", key -> {
      // Each slot owns a 4 GiB window of I/O virtual address space; maxMrSize is at most that.
      MemoryRegion mr = new MemoryRegion(pd, MrType.USER, region, (long) KeyTable.index(key) << 32, 0);
      int rkey = AccessFlags.anyRemote(access) ? key : 0;
      mr.mapping.set(MrMapping.contiguous(mr, key, rkey, access, mr.userIova, region));
      return mr;
    });
  }

  /** Runs on the device actor: a FREE region of {@code type} for up to {@code maxPages} pages. */
  static MemoryRegion allocPaged(ProtectionDomain pd, MrType type, int maxPages, String verb) {
    return allocate(pd, verb, key -> {
      MemoryRegion mr = new MemoryRegion(pd, type, null, 0, maxPages);
      mr.softKey = key;
      mr.mapping.set(MrMapping.free(mr, key, 0));
      return mr;
    });
  }

  private static MemoryRegion allocate(ProtectionDomain pd, String verb, java.util.function.IntFunction<MemoryRegion> make) {
    pd.retain(); // fails if the PD was deallocated meanwhile
    KeyTable keys = DeviceVerbs.of(pd.device()).keys();
    int key = keys.allocate();
    if (key < 0) {
      pd.release();
      throw new ResourceBusyException(verb + ": device " + pd.device().name() + " has no free memory key (maxMr "
          + pd.device().attributes().maxMr() + ")");
    }
    MemoryRegion mr = make.apply(key);
    keys.publish(key, mr);
    return mr;
  }

  /** The protection domain. */
  public ProtectionDomain pd() {
    return pd;
  }

  /** The device. */
  public Device device() {
    return pd.device();
  }

  /** How the region was made. */
  public MrType type() {
    return type;
  }

  /**
   * The first I/O virtual address: fixed for {@link MrType#USER}; for {@link MrType#MEM_REG} the one given
   * to the last {@link #mapPages} (0 before), as {@code ib_map_mr_sg} sets {@code mr->iova}.
   */
  public long iova() {
    if (type == MrType.USER) {
      return userIova;
    }
    MrMapping s = staged;
    return s == null ? 0 : s.iova();
  }

  /** Length in bytes: of the buffer ({@link MrType#USER}) or of the last {@link #mapPages} (0 before). */
  public long length() {
    if (type == MrType.USER) {
      return buffer.capacity();
    }
    MrMapping s = staged;
    return s == null ? 0 : s.length();
  }

  /** The {@link AccessFlags} granted now (for {@link MrType#MEM_REG}: by the REG_MR that made it VALID; 0 while FREE). */
  public int access() {
    MrMapping m = mapping.get();
    return m == null || !m.isValid() ? 0 : m.access();
  }

  /**
   * The local key: fixed for {@link MrType#USER}; for {@link MrType#MEM_REG} the consumer's key, which
   * {@link #updateFastRegKey} changes and a REG_MR posted with it makes the working one.
   */
  public int lkey() {
    if (type == MrType.USER) {
      return mappingOrLast().lkey();
    }
    return softKey;
  }

  /**
   * The remote key for peers: for {@link MrType#USER} 0 if no remote right was granted; for
   * {@link MrType#MEM_REG} equal to {@link #lkey()} (the REG_MR's rights decide whether peers may use it).
   */
  public int rkey() {
    if (type == MrType.USER) {
      return mappingOrLast().rkey();
    }
    return softKey;
  }

  private MrMapping mappingOrLast() {
    MrMapping m = mapping.get();
    return m != null ? m : last;
  }

  /** The most pages {@link #mapPages} takes (0 for {@link MrType#USER}). */
  public int maxPages() {
    return maxPages;
  }

  /**
   * True while its keys work: a {@link MrType#USER} region until deregistered, a {@link MrType#MEM_REG}
   * region between a REG_MR and its invalidation.
   */
  public boolean isValid() {
    MrMapping m = mapping.get();
    return m != null && m.isValid();
  }

  /**
   * The registered bytes of a {@link MrType#USER} region: a view of the buffer given at registration,
   * position 0 at {@link #iova()}. Use absolute get/put, or a {@code duplicate()}, since the view is shared.
   *
   * @throws UnsupportedOperationException for a fast-registration region (its bytes are its pages)
   */
  public ByteBuffer buffer() {
    if (type != MrType.USER) {
      throw new UnsupportedOperationException(describe() + " has no single buffer: its bytes are the pages mapped");
    }
    return buffer;
  }

  /** True if {@code [addr, addr + len)} lies inside the region's current VALID mapping. Never blocks; any thread. */
  public boolean contains(long addr, long len) {
    MrMapping m = mapping.get();
    return m != null && m.isValid() && m.contains(addr, len);
  }

  /** How many whole {@link Page}s a {@link MrType#USER} region has (0 for other kinds). */
  public int pageCount() {
    return type == MrType.USER ? (int) Math.min(Integer.MAX_VALUE, buffer.capacity() / Page.SIZE) : 0;
  }

  /**
   * Page {@code index} of a {@link MrType#USER} region: bytes {@code index * Page.SIZE} to
   * {@code (index + 1) * Page.SIZE - 1} of its buffer, for {@link #mapPages} and {@link Fmr#mapPhys}.
   * Never blocks; any thread.
   *
   * @throws InvalidArgumentException if the region is not USER, is read-only, was deregistered, or has no
   *     such whole page
   */
  public Page page(int index) {
    if (type != MrType.USER) {
      throw new InvalidArgumentException("index", describe() + " is not a registered buffer: only USER regions lend pages");
    }
    if (buffer.isReadOnly()) {
      throw new InvalidArgumentException("index", describe() + " is read-only: its pages cannot be mapped for writing");
    }
    if (!isValid()) {
      throw new InvalidArgumentException("index", describe() + " was deregistered");
    }
    if (index < 0 || index >= pageCount()) {
      throw new InvalidArgumentException("index", "page " + index + " is outside the region's " + pageCount()
          + " whole page(s) of " + Page.SIZE + " bytes");
    }
    return new Page(this, index, buffer.slice(index * Page.SIZE, Page.SIZE));
  }

  /**
   * Sets the page list of a {@link MrType#MEM_REG} region ({@code ib_map_mr_sg}): {@code length} bytes of
   * {@code pages} laid end to end, starting at the offset {@code iova % Page.SIZE} of the first page, and
   * addressed from {@code iova}. It takes effect with the next REG_MR posted on the region (the post takes
   * a snapshot, so mapping again afterwards does not change that request). Never blocks; any thread.
   *
   * @throws InvalidArgumentException if the region is not MEM_REG, a page is null or of another device,
   *     there are none or more than {@link #maxPages()}, or {@code length} is not 1 to what the pages hold
   *     after the offset (nor more than the device's {@code maxMrSize})
   */
  public void mapPages(List<Page> pages, long iova, long length) {
    if (type != MrType.MEM_REG) {
      throw new InvalidArgumentException("mr", describe() + " is not a fast-registration region (allocMr)");
    }
    staged = checkedMapping(this, pages, iova, length, maxPages, 0, 0, 0);
  }

  /** Validates a page list and builds its mapping (shared with FMRs). */
  static MrMapping checkedMapping(MemoryRegion mr, List<Page> pages, long iova, long length, int maxPages,
      int key, int access, int maps) {
    Page.checkAll(pages, mr.device(), "pages");
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
    return MrMapping.paged(mr, key, access, iova, length, pages.toArray(new Page[0]), maps);
  }

  /**
   * Changes the low 8 bits of a {@link MrType#MEM_REG} region's key ({@code ib_update_fast_reg_key}):
   * post the next REG_MR with the new {@link #rkey()}, and rkeys handed out before stop working once it
   * executes. Never blocks; any thread.
   *
   * @return the new key
   * @throws InvalidArgumentException if the region is not MEM_REG
   */
  public int updateFastRegKey(int key8) {
    if (type != MrType.MEM_REG) {
      throw new InvalidArgumentException("mr", describe() + " is not a fast-registration region (allocMr)");
    }
    int k = (softKey & ~0xff) | (key8 & 0xff);
    softKey = k;
    return k;
  }

  /** Internal: the staged page list (MEM_REG), or null if {@link #mapPages} was never called. */
  MrMapping staged() {
    return staged;
  }

  /** Internal API for drivers: the current mapping (VALID or not), null once destroyed. */
  public MrMapping mapping() {
    return mapping.get();
  }

  /**
   * Internal API for drivers, executing a REG_MR posted on a QP of {@code qpPd} ({@code rxe_reg_fast_mr}):
   * makes the region VALID with {@code key}, {@code access} and the page list {@code pages} (the snapshot
   * the post took, null if there was none).
   *
   * @return null on success, or why it failed (the WR then completes with LOC_QP_OP_ERR)
   */
  public String fastRegister(MrMapping pages, int key, int access, ProtectionDomain qpPd) {
    if (type != MrType.MEM_REG) {
      return describe() + " is not a fast-registration region (allocMr)";
    }
    if (pd != qpPd) {
      return describe() + " is of " + pd + ", the QP of " + qpPd;
    }
    if (pages == null) {
      return describe() + " had no page list when the REG_MR was posted (mapPages)";
    }
    for (MrMapping cur = mapping.get(); ; cur = mapping.get()) {
      if (cur == null) {
        return describe() + " was deregistered";
      }
      if (cur.isValid()) {
        return describe() + " is VALID: invalidate it before registering it again";
      }
      if (KeyTable.index(key) != KeyTable.index(cur.lkey())) {
        return String.format("key 0x%08x is not a key of %s (only its low 8 bits may change)", key, describe());
      }
      if (mapping.compareAndSet(cur, pages.withKey(key, access, 0))) {
        return null;
      }
    }
  }

  /**
   * Internal API for drivers, executing LOCAL_INV or SEND_WITH_INV ({@code rxe_invalidate_mr}): the region
   * whose current key is {@code key} becomes FREE. Only MEM_REG regions can be invalidated.
   *
   * @return null on success, or why it failed
   */
  public String invalidate(int key) {
    if (type != MrType.MEM_REG) {
      return describe() + " is not a fast-registration region: only those can be invalidated";
    }
    for (MrMapping cur = mapping.get(); ; cur = mapping.get()) {
      if (cur == null) {
        return describe() + " was deregistered";
      }
      if (cur.lkey() != key) {
        return String.format("key 0x%08x is not the current key of %s", key, describe());
      }
      if (!cur.isValid() || mapping.compareAndSet(cur, MrMapping.free(this, key, 0))) {
        return null;
      }
    }
  }

  /** Internal: replaces the mapping if it is still {@code expected} (FMR map/unmap). */
  boolean swapMapping(MrMapping expected, MrMapping next) {
    return mapping.compareAndSet(expected, next);
  }

  /**
   * Deregisters the region ({@code ib_dereg_mr}): its keys stop working at once for every later access,
   * and the stage completes once transfers that started before have finished with its memory.
   * <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if it was
   *     deregistered already
   */
  public CompletionStage<Done> deregister() {
    if (type == MrType.FMR) {
      throw new InvalidArgumentException("mr", "the region of an FMR is freed with Fmr.dealloc()");
    }
    return DeviceResources.destroy(pd.device(), "deregisterMr", this, () -> {
      reclaim();
      awaitTransfers(pd.device());
      return null;
    });
  }

  /**
   * Device actor: waits until the driver's transfers that may have resolved a key before it stopped
   * working are finished ({@link dev.midlayer.spi.DeviceOps.MemoryFence}), so that the may-sleep verb that
   * stopped it completes only when nothing touches the old pages any more.
   */
  static void awaitTransfers(Device device) throws Exception {
    dev.midlayer.spi.DeviceOps.MemoryFence fence = DeviceResources.ops(device).memoryFence();
    if (fence != null) {
      fence.await();
    }
  }

  @Override
  public String describe() {
    return switch (type) {
      case USER -> String.format("MR lkey 0x%08x (%d bytes, %s)", lkey(), buffer.capacity(),
          AccessFlags.toString(mappingOrLast().access()));
      case MEM_REG -> String.format("fast-reg MR key 0x%08x (max %d pages)", softKey, maxPages);
      case FMR -> String.format("FMR region key 0x%08x (max %d pages)", mappingOrLast().lkey(), maxPages);
    };
  }

  @Override
  public void reclaim() {
    MrMapping m = mapping.getAndSet(null);
    if (m != null) {
      last = m;
      DeviceVerbs.of(pd.device()).keys().release(m.lkey(), type == MrType.MEM_REG);
      pd.release();
    }
  }

  @Override
  public String toString() {
    return describe() + " on " + pd.device().name();
  }
}
