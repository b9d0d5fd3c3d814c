package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResource;
import dev.midlayer.device.DeviceResources;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A fast memory region ({@code struct ib_fmr}, the seed's {@code map_phys_fmr}): a key whose pages are
 * mapped by a verb instead of a work request. {@link #mapPhys} maps a list of {@link Page}s at an iova and
 * returns a <b>new key each time</b>, so keys of earlier maps stop working at once; {@link #unmap} makes
 * the FMR's keys stop working without mapping anything.
 *
 * <p>Keys: each map takes the next key of the FMR's key slot ({@link KeyTable}), so a stale key comes
 * back only after tens of thousands of maps. As with hardware FMRs, at most {@link #maxMaps()} maps (the
 * device's {@code maxMapPerFmr}) are allowed between unmaps, and {@link #unmap} also moves the FMR to a
 * fresh key slot when the device has one free.
 *
 * <p>The midlayer keeps the memory keys and translations of every device itself ({@link KeyTable},
 * {@link MrMapping}), so FMRs need no driver op: the seed's non-sleeping {@code map_phys_fmr} is this
 * class's lock-free {@link #mapPhys}.
 *
 * <p>Threading: {@link #mapPhys} and the getters <b>never block and may be called from any thread and any
 * context, completion and event handlers included</b>. {@link ProtectionDomain#allocFmr}, {@link #unmap}
 * and {@link #dealloc} <b>may sleep</b> (they run on the device actor; from a handler they throw
 * {@link dev.midlayer.context.IllegalContextException}).
 */
public final class Fmr implements DeviceResource {
  private final MemoryRegion region;
  private final int access;
  private final int maxMaps;

  private Fmr(MemoryRegion region, int access, int maxMaps) {
    this.region = region;
    this.access = access;
    this.maxMaps = maxMaps;
  }

  /** Runs on the device actor. */
  static Fmr alloc(ProtectionDomain pd, int access, int maxPages) {
    DeviceVerbs verbs = DeviceVerbs.of(pd.device());
    int maxFmr = pd.device().attributes().maxFmr();
    if (!verbs.reserveFmr(maxFmr)) {
      throw new ResourceBusyException("allocFmr: device " + pd.device().name() + " has " + maxFmr
          + " FMRs already (maxFmr)");
    }
    try {
      MemoryRegion region = MemoryRegion.allocPaged(pd, MrType.FMR, maxPages, "allocFmr");
      return new Fmr(region, access, Math.min(255, pd.device().attributes().maxMapPerFmr()));
    } catch (RuntimeException e) {
      verbs.releaseFmr();
      throw e;
    }
  }

  /** The protection domain. */
  public ProtectionDomain pd() {
    return region.pd();
  }

  /** The device. */
  public Device device() {
    return region.device();
  }

  /** The {@link AccessFlags} every map grants. */
  public int access() {
    return access;
  }

  /** The most pages one map takes. */
  public int maxPages() {
    return region.maxPages();
  }

  /** How many maps are allowed between unmaps. */
  public int maxMaps() {
    return maxMaps;
  }

  /** True while a map is in effect (between {@link #mapPhys} and {@link #unmap}). */
  public boolean isMapped() {
    return region.isValid();
  }

  /** The local key of the current map (the key the next map replaces). */
  public int lkey() {
    MrMapping m = region.mapping();
    return m == null ? 0 : m.lkey();
  }

  /** The remote key of the current map: equal to {@link #lkey()} if a remote right was granted, else 0. */
  public int rkey() {
    return AccessFlags.anyRemote(access) ? lkey() : 0;
  }

  /** The iova of the current map (0 if unmapped). */
  public long iova() {
    MrMapping m = region.mapping();
    return m == null || !m.isValid() ? 0 : m.iova();
  }

  /** The length in bytes of the current map (0 if unmapped). */
  public long length() {
    MrMapping m = region.mapping();
    return m == null || !m.isValid() ? 0 : m.length();
  }

  /**
   * Maps {@code pages} at {@code iova} ({@code ib_map_phys_fmr}): the region covers the pages laid end to
   * end from the offset {@code iova % Page.SIZE} of the first page to the end of the last one, with the
   * FMR's rights, under a new key. The previous map's keys stop working at once (the two maps are one
   * atomic swap: an access sees the old map or the new one, never a mix).
   * <b>Never blocks; callable from any thread and any context, handlers included.</b>
   *
   * @return the new key: the lkey, and the rkey if the FMR grants a remote right
   * @throws InvalidArgumentException if a page is null or of another device, there are none or more than
   *     {@link #maxPages()}, the iova wraps, or the FMR was mapped {@link #maxMaps()} times since its last
   *     unmap
   * @throws ObjectDestroyedException if the FMR was deallocated
   */
  public int mapPhys(List<Page> pages, long iova) {
    DeviceResources.checkUsable(device(), "mapPhysFmr");
    InvalidArgumentException.requireNonNull(pages, "pages");
    long length = (long) pages.size() * Page.SIZE - (iova & (Page.SIZE - 1));
    MrMapping map = MemoryRegion.checkedMapping(region, pages, iova, length, maxPages(), 0, access, 0);
    KeyTable keys = DeviceVerbs.of(device()).keys();
    for (MrMapping cur = region.mapping(); ; cur = region.mapping()) {
      if (cur == null) {
        throw new ObjectDestroyedException("mapPhysFmr: " + describe() + " was deallocated");
      }
      if (cur.maps >= maxMaps) {
        throw new InvalidArgumentException("fmr", describe() + " was mapped " + maxMaps
            + " times (maxMapPerFmr) since its last unmap: unmap it first");
      }
      int key = keys.nextKey(cur.lkey());
      if (region.swapMapping(cur, map.withKey(key, access, cur.maps + 1))) {
        return key;
      }
    }
  }

  /**
   * Unmaps the FMR ({@code ib_unmap_fmr}): its keys stop working, and it moves to a fresh key slot so its
   * next {@link #maxMaps()} maps give keys it never had. <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that completes once the keys stopped working and transfers that started before have
   *     finished with the pages (the ULP may reuse them then)
   */
  public CompletionStage<Done> unmap() {
    return DeviceResources.run(device(), "unmapFmr", () -> {
      KeyTable keys = DeviceVerbs.of(device()).keys();
      MrMapping cur = region.mapping();
      if (cur == null) {
        throw new ObjectDestroyedException("unmapFmr: " + describe() + " was deallocated");
      }
      int fresh = keys.allocate();
      if (fresh >= 0) {
        keys.publish(fresh, region);
      }
      // Concurrent maps may still swap in; the loop retries until the unmapped state is in.
      for (; ; cur = region.mapping()) {
        // Without a free slot the FMR stays in its own: its keys go on through the slot's generations.
        MrMapping next = MrMapping.free(region, fresh >= 0 ? fresh : cur.lkey(), 0);
        if (region.swapMapping(cur, next)) {
          break;
        }
      }
      if (fresh >= 0) {
        keys.release(cur.lkey());
      }
      MemoryRegion.awaitTransfers(device());
      return Done.getInstance();
    });
  }

  /**
   * Deallocates the FMR ({@code ib_dealloc_fmr}), mapped or not: its keys stop working. <b>May sleep</b>:
   * not from atomic context.
   *
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if it was
   *     deallocated already
   */
  public CompletionStage<Done> dealloc() {
    return DeviceResources.destroy(device(), "deallocFmr", this, () -> {
      reclaim();
      MemoryRegion.awaitTransfers(device());
      return null;
    });
  }

  @Override
  public String describe() {
    return String.format("FMR key 0x%08x (max %d pages, %s)", lkey(), maxPages(), AccessFlags.toString(access));
  }

  @Override
  public void reclaim() {
    if (region.mapping() != null) {
      region.reclaim();
      DeviceVerbs.of(device()).releaseFmr();
    }
  }

  @Override
  public String toString() {
    return describe() + " on " + device().name();
  }
}
