package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResource;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.ObjectDestroyedException;
import dev.midlayer.verbs.Page;
import dev.midlayer.verbs.ResourceBusyException;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Internal API. An {@link Fmr}: its region ({@link FmrRegion}), its rights and its map budget. Maps swap the
 * region's mapping with one CAS and take the next key of its slot.
 */
public final class FmrImpl implements Fmr, DeviceResource {
  private final FmrRegion region;
  private final int access;
  private final int maxMaps;

  private FmrImpl(FmrRegion region, int access, int maxMaps) {
    this.region = region;
    this.access = access;
    this.maxMaps = maxMaps;
  }

  /** Runs on the device actor. */
  static FmrImpl alloc(PdImpl pd, int access, int maxPages) {
    DeviceVerbs verbs = pd.device().verbs();
    int maxFmr = pd.device().attributes().maxFmr();
    if (!verbs.reserveFmr(maxFmr)) {
      throw new ResourceBusyException("allocFmr: device " + pd.device().name() + " has " + maxFmr
          + " FMRs already (maxFmr)");
    }
    try {
      FmrRegion region = FmrRegion.alloc(pd, maxPages);
      return new FmrImpl(region, access, Math.min(255, pd.device().attributes().maxMapPerFmr()));
    } catch (RuntimeException e) {
      verbs.releaseFmr();
      throw e;
    }
  }

  @Override
  public PdImpl pd() {
    return region.pd();
  }

  @Override
  public DeviceImpl device() {
    return region.device();
  }

  @Override
  public int access() {
    return access;
  }

  @Override
  public int maxPages() {
    return region.maxPages();
  }

  @Override
  public int maxMaps() {
    return maxMaps;
  }

  @Override
  public boolean isMapped() {
    return region.isValid();
  }

  @Override
  public int lkey() {
    MrMapping m = region.mapping();
    return m == null ? 0 : m.lkey();
  }

  @Override
  public int rkey() {
    return AccessFlags.anyRemote(access) ? lkey() : 0;
  }

  @Override
  public long iova() {
    MrMapping m = region.mapping();
    return m == null || !m.isValid() ? 0 : m.iova();
  }

  @Override
  public long length() {
    MrMapping m = region.mapping();
    return m == null || !m.isValid() ? 0 : m.length();
  }

  @Override
  public int mapPhys(List<Page> pages, long iova) {
    dev.midlayer.monitor.ContractMonitor m = device().monitor();
    return m == null ? mapPhysNow(pages, iova) : NonSleepingVerbs.watched(m,
        dev.midlayer.monitor.NonSleepingVerb.MAP_PHYS_FMR, this, device(), owner(), () -> mapPhysNow(pages, iova));
  }

  private int mapPhysNow(List<Page> pages, long iova) {
    device().checkUsable("mapPhysFmr");
    InvalidArgumentException.requireNonNull(pages, "pages");
    long length = (long) pages.size() * Page.SIZE - (iova & (Page.SIZE - 1));
    MrMapping map = MrImpl.checkedMapping(region, pages, iova, length, maxPages(), 0, access, 0);
    KeyTable keys = device().verbs().keys();
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

  @Override
  public CompletionStage<Done> unmap() {
    return DeviceResources.run(device(), "unmapFmr", () -> {
      KeyTable keys = device().verbs().keys();
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
      MrImpl.awaitTransfers(device());
      return Done.getInstance();
    });
  }

  @Override
  public CompletionStage<Done> dealloc() {
    return DeviceResources.destroy(device(), "deallocFmr", this, () -> {
      reclaim();
      MrImpl.awaitTransfers(device());
      return null;
    });
  }

  @Override
  public boolean holdsMemory() {
    return true;
  }

  @Override
  public dev.midlayer.client.ClientId owner() {
    return region.owner();
  }

  @Override
  public String describe() {
    return String.format("FMR key 0x%08x (max %d pages, %s)", lkey(), maxPages(), AccessFlags.toString(access));
  }

  @Override
  public void reclaim() {
    if (region.mapping() != null) {
      region.reclaim();
      device().verbs().releaseFmr();
    }
  }

  @Override
  public String toString() {
    return describe() + " on " + device().name();
  }
}
