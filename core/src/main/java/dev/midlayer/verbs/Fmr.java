package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A fast memory region ({@code struct ib_fmr}, the seed's {@code map_phys_fmr}): a key whose pages are
 * mapped by a verb instead of a work request. {@link #mapPhys} maps a list of {@link Page}s at an iova and
 * returns a <b>new key each time</b>, so keys of earlier maps stop working at once; {@link #unmap} makes
 * the FMR's keys stop working without mapping anything.
 *
 * <p>Keys: each map takes the next key of the FMR's key slot, so a stale key comes back only after tens of
 * thousands of maps. As with hardware FMRs, at most {@link #maxMaps()} maps (the device's
 * {@code maxMapPerFmr}) are allowed between unmaps, and {@link #unmap} also moves the FMR to a fresh key
 * slot when the device has one free.
 *
 * <p>The midlayer keeps the memory keys and translations of every device itself, so FMRs need no driver op:
 * the seed's non-sleeping {@code map_phys_fmr} is this class's lock-free {@link #mapPhys}.
 *
 * <p>Threading: {@link #mapPhys} and the getters <b>never block and may be called from any thread and any
 * context, completion and event handlers included</b>. {@link ProtectionDomain#allocFmr}, {@link #unmap}
 * and {@link #dealloc} <b>may sleep</b> (they run on the device actor; from a handler they throw
 * {@link dev.midlayer.context.IllegalContextException}).
 */
public interface Fmr {
  /** The protection domain. */
  ProtectionDomain pd();

  /** The device. */
  default Device device() {
    return pd().device();
  }

  /** The {@link dev.midlayer.ib.AccessFlags} every map grants. */
  int access();

  /** The most pages one map takes. */
  int maxPages();

  /** How many maps are allowed between unmaps. */
  int maxMaps();

  /** True while a map is in effect (between {@link #mapPhys} and {@link #unmap}). */
  boolean isMapped();

  /** The local key of the current map (the key the next map replaces). */
  int lkey();

  /** The remote key of the current map: equal to {@link #lkey()} if a remote right was granted, else 0. */
  int rkey();

  /** The iova of the current map (0 if unmapped). */
  long iova();

  /** The length in bytes of the current map (0 if unmapped). */
  long length();

  /**
   * Maps {@code pages} at {@code iova} ({@code ib_map_phys_fmr}): the region covers the pages laid end to
   * end from the offset {@code iova % Page.SIZE} of the first page to the end of the last one, with the
   * FMR's rights, under a new key. The previous map's keys stop working at once (the two maps are one
   * atomic swap: an access sees the old map or the new one, never a mix).
   * <b>Never blocks; callable from any thread and any context, handlers included.</b>
   *
   * @return the new key: the lkey, and the rkey if the FMR grants a remote right
   * @throws dev.midlayer.ib.InvalidArgumentException if a page is null or of another device, there are none
   *     or more than {@link #maxPages()}, the iova wraps, or the FMR was mapped {@link #maxMaps()} times since
   *     its last unmap
   * @throws ObjectDestroyedException if the FMR was deallocated
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  int mapPhys(List<Page> pages, long iova);

  /**
   * Unmaps the FMR ({@code ib_unmap_fmr}): its keys stop working, and it moves to a fresh key slot so its
   * next {@link #maxMaps()} maps give keys it never had. <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that completes once the keys stopped working and transfers that started before have
   *     finished with the pages (the ULP may reuse them then)
   */
  CompletionStage<Done> unmap();

  /**
   * Deallocates the FMR ({@code ib_dealloc_fmr}), mapped or not: its keys stop working. <b>May sleep</b>:
   * not from atomic context.
   *
   * @return a stage that fails with {@link dev.midlayer.registry.NotRegisteredException} if it was
   *     deallocated already
   */
  CompletionStage<Done> dealloc();
}
