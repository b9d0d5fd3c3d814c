package dev.midlayer.spi;

/**
 * The outcome of a memory operation a driver asks the midlayer to carry out on a QP's behalf (REG_MR,
 * LOCAL_INV, the invalidation of a SEND_WITH_INV): done, or refused for a {@link Refusal} reason (the work
 * request then completes with {@code LOC_QP_OP_ERR}, or {@code REM_INV_REQ_ERR} for a remote invalidation).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public sealed interface MemoryOpResult {
  /** Why a memory operation was refused (the checks of rxe's {@code rxe_reg_fast_mr} and {@code rxe_invalidate_mr}). */
  enum Refusal {
    /** No region has a key with that index. */
    NO_SUCH_KEY,
    /** The key is not the region's current key (its low 8 bits differ). */
    NOT_CURRENT_KEY,
    /** The region is not a fast-registration region. */
    NOT_FAST_REG,
    /** The region belongs to another protection domain than the QP. */
    OTHER_PD,
    /** A REG_MR whose region had no page list when it was posted. */
    NO_PAGE_LIST,
    /** A REG_MR on a region that is VALID already. */
    ALREADY_VALID,
    /** A REG_MR whose key has another index than the region's. */
    OTHER_KEY_INDEX,
    /** The region was deregistered. */
    DEREGISTERED
  }

  /** True if the operation was carried out. */
  boolean ok();

  /** The operation was carried out. */
  static MemoryOpResult done() {
    return Done.INSTANCE;
  }

  /** The operation was refused. */
  static MemoryOpResult refused(Refusal refusal, String detail) {
    return new Refused(refusal, detail);
  }

  /** See {@link #done()}. */
  enum Done implements MemoryOpResult {
    INSTANCE;

    @Override
    public boolean ok() {
      return true;
    }
  }

  /**
   * See {@link #refused}.
   *
   * @param refusal the reason
   * @param detail the objects and keys involved, for logs
   */
  record Refused(Refusal refusal, String detail) implements MemoryOpResult {
    @Override
    public boolean ok() {
      return false;
    }
  }
}
