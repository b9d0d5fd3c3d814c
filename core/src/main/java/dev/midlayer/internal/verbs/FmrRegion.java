package dev.midlayer.internal.verbs;

import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.MrType;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/** Internal API. The region behind an FMR ({@link FmrImpl}): mapped and unmapped by verbs, a new key each map. */
public final class FmrRegion extends MrImpl implements MemoryRegion.FmrBacked {
  private final int maxPages;
  private final int firstKey;

  private FmrRegion(PdImpl pd, int maxPages, int firstKey) {
    super(pd);
    this.maxPages = maxPages;
    this.firstKey = firstKey;
  }

  /** Runs on the device actor: an unmapped region for maps of up to {@code maxPages} pages. */
  static FmrRegion alloc(PdImpl pd, int maxPages) {
    return allocate(pd, "allocFmr", key -> {
      FmrRegion mr = new FmrRegion(pd, maxPages, key);
      mr.mapping.set(MrMapping.free(mr, key, 0));
      return mr;
    });
  }

  @Override
  public MrType type() {
    return MrType.FMR;
  }

  @Override
  public long iova() {
    return 0;
  }

  @Override
  public long length() {
    return 0;
  }

  @Override
  public int lkey() {
    return firstKey;
  }

  @Override
  public int rkey() {
    return firstKey;
  }

  @Override
  public int maxPages() {
    return maxPages;
  }

  @Override
  public CompletionStage<Done> deregister() {
    throw new InvalidArgumentException("mr", "the region of an FMR is freed with Fmr.dealloc()");
  }

  @Override
  public String describe() {
    return String.format("FMR region key 0x%08x (max %d pages)", mappingOrLast().lkey(), maxPages);
  }
}
