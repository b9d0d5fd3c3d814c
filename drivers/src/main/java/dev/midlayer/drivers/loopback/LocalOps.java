package dev.midlayer.drivers.loopback;

import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.FastRegSend;
import dev.midlayer.verbs.KeyTable;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.SendWr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory operations of the send queue that never leave the QP: REG_MR (fast registration) and
 * LOCAL_INV, and the invalidation a SEND_WITH_INV asks of the responder. They run on the QP's actor,
 * in send-queue order (ib-semantics §3.10).
 */
final class LocalOps {
  private static final Logger log = LoggerFactory.getLogger(LocalOps.class);

  private LocalOps() {}

  /** True for the opcodes executed locally, without a packet. */
  static boolean isLocal(WrOpcode op) {
    return op == WrOpcode.REG_MR || op == WrOpcode.LOCAL_INV;
  }

  /**
   * Executes a REG_MR ({@link FastRegSend}) or a LOCAL_INV posted on a QP of {@code pd}.
   *
   * @return null on success, or why it failed (the WR then completes with LOC_QP_OP_ERR)
   */
  static String execute(Object entry, SendWr wr, KeyTable keys, ProtectionDomain pd, int qpNum) {
    String why;
    if (entry instanceof FastRegSend reg) {
      why = wr.regMr().fastRegister(reg.pages(), wr.regKey(), wr.regAccess(), pd);
    } else {
      why = invalidate(keys, pd, wr.invalidateRkey());
    }
    if (why != null) {
      log.debug("QP {}: {} (wr_id {}) failed: {}", qpNum, wr.opcode(), wr.wrId(), why);
    }
    return why;
  }

  /**
   * Makes the fast-registration region whose current key is {@code key} FREE, if it is in {@code pd}
   * ({@code rxe_invalidate_mr}, plus the IB rule that the QP and the region share a protection domain).
   *
   * @return null on success, or why it failed
   */
  static String invalidate(KeyTable keys, ProtectionDomain pd, int key) {
    MemoryRegion mr = keys.slot(key);
    if (mr == null) {
      return String.format("no region has key 0x%08x", key);
    }
    if (mr.pd() != pd) {
      return String.format("key 0x%08x is of %s, the QP of %s", key, mr.pd(), pd);
    }
    return mr.invalidate(key);
  }
}
