package dev.midlayer.drivers.engine;

import dev.midlayer.ib.WrOpcode;
import dev.midlayer.spi.MemoryOpResult;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.SendWqe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory operations of the send queue that never leave the QP: REG_MR (fast registration) and LOCAL_INV,
 * and the invalidation a SEND_WITH_INV asks of the responder. They run on the QP's engine, in send-queue order
 * (ib-semantics §3.10; rxe's {@code rxe_reg_fast_mr} and {@code rxe_invalidate_mr}); the midlayer, which owns
 * the regions, carries them out. Stateless; the engine actor only.
 */
final class LocalOperations {
  private static final Logger log = LoggerFactory.getLogger(LocalOperations.class);

  private LocalOperations() {}

  /** True for the opcodes executed locally, without a packet. */
  static boolean isLocal(WrOpcode op) {
    return op == WrOpcode.REG_MR || op == WrOpcode.LOCAL_INV;
  }

  /** Executes a REG_MR or a LOCAL_INV posted on {@code qp}; the WR completes with LOC_QP_OP_ERR if refused. */
  static MemoryOpResult execute(QpContext qp, SendWqe wqe) {
    MemoryOpResult result = qp.executeLocal(wqe);
    if (result instanceof MemoryOpResult.Refused r) {
      log.debug("QP {}: {} (wr_id {}) failed: {} ({})", qp.qpNum(), wqe.opcode(), wqe.wrId(), r.detail(), r.refusal());
    }
    return result;
  }

  /**
   * Makes the fast-registration region whose current key is {@code key} FREE, if it is in the responder QP's
   * protection domain ({@code rxe_invalidate_mr}, plus the IB rule that the QP and the region share one).
   */
  static MemoryOpResult invalidate(QpContext qp, int key) {
    return qp.device().memory().invalidate(key, qp.pdHandle());
  }
}
