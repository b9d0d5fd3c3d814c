package dev.midlayer.spi;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.WrOpcode;

/**
 * A send work request as posted ({@code struct ib_send_wr} in the send queue): the midlayer validated it and
 * took what must not change after the post (inline payload, a REG_MR's page list, a UD destination). Which
 * fields matter depends on the opcode; the others are zero or null.
 *
 * <p>A driver reads it from {@link WorkQueue#take()} until it finishes it with exactly one of
 * {@link QpContext#completeSend} or by counting it in a {@link QpContext#finishUnsignaled} (or drops it at
 * {@link QpContext#reset}); after that it must not touch it.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public interface SendWqe extends SgList {
  /** The consumer's {@code wr_id}, returned in the completion. */
  long wrId();

  /** What the request does. */
  WrOpcode opcode();

  /** {@link dev.midlayer.ib.SendFlags} bits. */
  int flags();

  /** True if {@code flag} (a {@link dev.midlayer.ib.SendFlags} bit) is set. */
  default boolean has(int flag) {
    return (flags() & flag) != 0;
  }


  /** Total bytes of the gather list (of the inline payload for an INLINE request). */
  long length();

  /** The immediate value of the *_WITH_IMM opcodes. */
  int immData();

  /** RDMA and atomic: the remote address. */
  long remoteAddr();

  /** RDMA and atomic: the remote key. */
  int rkey();

  /** Atomic: compare value (CMP_AND_SWP) or addend (FETCH_AND_ADD). */
  long compareAdd();

  /** Atomic: swap value (CMP_AND_SWP). */
  long swap();

  /** SEND_WITH_INV and LOCAL_INV: the key to invalidate. */
  int invalidateRkey();

  /** UD: the destination path, as the address handle said when the request was posted. */
  AhAttr ah();

  /** UD: the destination QP number. */
  int remoteQpn();

  /** UD: the destination Q_Key. */
  int remoteQkey();

  /**
   * INLINE requests: the payload, gathered when the request was posted (so the consumer may reuse its
   * buffers at once); null for others. Its length is {@link #length()}. Not to be modified.
   */
  byte[] inlineData();

  /** REG_MR: the key the region gets. The registration itself is {@link QpContext#executeLocal}. */
  int regKey();

  /** REG_MR: the {@link dev.midlayer.ib.AccessFlags} the region gets. */
  int regAccess();
}
