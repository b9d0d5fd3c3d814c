package dev.midlayer.internal.verbs;

import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.spi.MemoryOpResult.Refusal;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.MrType;
import dev.midlayer.verbs.Page;
import java.util.List;

/**
 * Internal API. A fast-registration region ({@code ib_alloc_mr(IB_MR_TYPE_MEM_REG)}): FREE until a REG_MR
 * makes it VALID with a staged page list; LOCAL_INV or SEND_WITH_INV makes it FREE again.
 */
public final class FastRegMr extends MrImpl implements MemoryRegion.FastReg {
  private final int maxPages;
  /** The consumer's key ({@code mr->lkey == mr->rkey}), changed by updateFastRegKey. */
  private volatile int softKey;
  /** The page list of the last mapPages, taken by the next REG_MR posted. */
  private volatile MrMapping staged;

  private FastRegMr(PdImpl pd, int maxPages) {
    super(pd);
    this.maxPages = maxPages;
  }

  /** Runs on the device actor: a FREE region for up to {@code maxPages} pages. */
  static FastRegMr alloc(PdImpl pd, int maxPages) {
    return allocate(pd, "allocMr", key -> {
      FastRegMr mr = new FastRegMr(pd, maxPages);
      mr.softKey = key;
      mr.mapping.set(MrMapping.free(mr, key, 0));
      return mr;
    });
  }

  @Override
  public MrType type() {
    return MrType.MEM_REG;
  }

  @Override
  public long iova() {
    MrMapping s = staged;
    return s == null ? 0 : s.iova();
  }

  @Override
  public long length() {
    MrMapping s = staged;
    return s == null ? 0 : s.length();
  }

  @Override
  public int lkey() {
    return softKey;
  }

  @Override
  public int rkey() {
    return softKey;
  }

  @Override
  public int maxPages() {
    return maxPages;
  }

  @Override
  public void mapPages(List<Page> pages, long iova, long length) {
    pd.device().checkUsable("mapMrSg");
    staged = checkedMapping(this, pages, iova, length, maxPages, 0, 0, 0);
  }

  @Override
  public int updateFastRegKey(int key8) {
    pd.device().checkUsable("updateFastRegKey");
    int k = (softKey & ~0xff) | (key8 & 0xff);
    softKey = k;
    return k;
  }

  /** The staged page list, or null if {@link #mapPages} was never called. */
  public MrMapping staged() {
    return staged;
  }

  /**
   * Executes a REG_MR posted on a QP of protection domain {@code qpPdHandle} ({@code rxe_reg_fast_mr}):
   * makes the region VALID with {@code key}, {@code access} and the page list {@code pages} (the snapshot
   * the post took, null if there was none).
   */
  public MemoryOpResult fastRegister(MrMapping pages, int key, int access, int qpPdHandle) {
    if (pd.handle() != qpPdHandle) {
      return MemoryOpResult.refused(Refusal.OTHER_PD, describe() + " is of " + pd + ", the QP of PD #" + qpPdHandle);
    }
    if (pages == null) {
      return MemoryOpResult.refused(Refusal.NO_PAGE_LIST,
          describe() + " had no page list when the REG_MR was posted (mapPages)");
    }
    for (MrMapping cur = mapping.get(); ; cur = mapping.get()) {
      if (cur == null) {
        return MemoryOpResult.refused(Refusal.DEREGISTERED, describe() + " was deregistered");
      }
      if (cur.isValid()) {
        return MemoryOpResult.refused(Refusal.ALREADY_VALID,
            describe() + " is VALID: invalidate it before registering it again");
      }
      if (KeyTable.index(key) != KeyTable.index(cur.lkey())) {
        return MemoryOpResult.refused(Refusal.OTHER_KEY_INDEX,
            String.format("key 0x%08x is not a key of %s (only its low 8 bits may change)", key, describe()));
      }
      if (mapping.compareAndSet(cur, pages.withKey(key, access, 0))) {
        return MemoryOpResult.done();
      }
    }
  }

  @Override
  MemoryOpResult invalidate(int key) {
    for (MrMapping cur = mapping.get(); ; cur = mapping.get()) {
      if (cur == null) {
        return MemoryOpResult.refused(Refusal.DEREGISTERED, describe() + " was deregistered");
      }
      if (cur.lkey() != key) {
        return MemoryOpResult.refused(Refusal.NOT_CURRENT_KEY,
            String.format("key 0x%08x is not the current key of %s", key, describe()));
      }
      if (!cur.isValid() || mapping.compareAndSet(cur, MrMapping.free(this, key, 0))) {
        return MemoryOpResult.done();
      }
    }
  }

  @Override
  boolean consumerKeyVariants() {
    return true;
  }

  @Override
  public String describe() {
    return String.format("fast-reg MR key 0x%08x (max %d pages)", softKey, maxPages);
  }
}
