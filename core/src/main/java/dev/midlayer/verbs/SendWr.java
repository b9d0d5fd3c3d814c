package dev.midlayer.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import java.util.ArrayList;
import java.util.List;

/**
 * A send work request ({@code struct ib_send_wr} with its {@code ib_rdma_wr}, {@code ib_atomic_wr} and
 * {@code ib_ud_wr} extensions in one record). Which fields matter depends on the opcode; the others are
 * zero or null. Immutable: build it once and post the same instance as often as you like (the data path
 * allocates nothing for it).
 *
 * <p>Threading: every method never blocks and may be called from any thread; the {@link Builder} is for one
 * thread at a time.
 *
 * @param wrId returned in the completion
 * @param cqe the completion callback for CQs polled by their actor, or null
 * @param opcode the operation
 * @param flags {@link SendFlags} bits
 * @param sgList the local buffers, gathered in order
 * @param immData immediate value for the *_WITH_IMM opcodes (opaque, network order end to end)
 * @param remoteAddr RDMA and atomic: the remote I/O virtual address
 * @param rkey RDMA and atomic: the remote key
 * @param compareAdd atomic: compare value (CMP_AND_SWP) or addend (FETCH_AND_ADD)
 * @param swap atomic: swap value (CMP_AND_SWP)
 * @param invalidateRkey SEND_WITH_INV and LOCAL_INV: the key to invalidate
 * @param ah UD: the destination's address handle
 * @param remoteQpn UD: the destination QP number
 * @param remoteQkey UD: the destination's Q_Key
 * @param regMr REG_MR: the fast-registration region to make VALID ({@code ib_reg_wr.mr})
 * @param regKey REG_MR: the key it gets, normally its {@link MemoryRegion#rkey()} after
 *     {@link MemoryRegion#updateFastRegKey} ({@code ib_reg_wr.key})
 * @param regAccess REG_MR: the {@link dev.midlayer.ib.AccessFlags} it grants ({@code ib_reg_wr.access})
 */
public record SendWr(
    long wrId,
    Cqe cqe,
    WrOpcode opcode,
    int flags,
    List<Sge> sgList,
    int immData,
    long remoteAddr,
    int rkey,
    long compareAdd,
    long swap,
    int invalidateRkey,
    AddressHandle ah,
    int remoteQpn,
    int remoteQkey,
    MemoryRegion regMr,
    int regKey,
    int regAccess) {

  /** Checks the opcode, the list and the flags, and copies {@code sgList}. */
  public SendWr {
    InvalidArgumentException.requireNonNull(opcode, "opcode");
    InvalidArgumentException.requireNonNull(sgList, "sgList");
    if ((flags & ~SendFlags.ALL) != 0) {
      throw new InvalidArgumentException("flags", String.format("unknown send flags 0x%x", flags & ~SendFlags.ALL));
    }
    sgList = List.copyOf(sgList);
  }

  /** A SEND of {@code sges}. */
  public static SendWr send(long wrId, int flags, Sge... sges) {
    return builder(WrOpcode.SEND).wrId(wrId).flags(flags).sges(sges).build();
  }

  /** A SEND_WITH_IMM of {@code sges} carrying {@code imm}. */
  public static SendWr sendWithImm(long wrId, int flags, int imm, Sge... sges) {
    return builder(WrOpcode.SEND_WITH_IMM).wrId(wrId).flags(flags).immData(imm).sges(sges).build();
  }

  /** A UD SEND of {@code sges} to QP {@code remoteQpn} behind {@code ah}, with Q_Key {@code qkey}. */
  public static SendWr udSend(long wrId, int flags, AddressHandle ah, int remoteQpn, int qkey, Sge... sges) {
    return builder(WrOpcode.SEND).wrId(wrId).flags(flags).ud(ah, remoteQpn, qkey).sges(sges).build();
  }

  /**
   * A REG_MR: makes the fast-registration region {@code mr} VALID with its page list (the last
   * {@link MemoryRegion#mapPages}), the key {@code key} and the rights {@code access}.
   */
  public static SendWr regMr(long wrId, int flags, MemoryRegion mr, int key, int access) {
    return builder(WrOpcode.REG_MR).wrId(wrId).flags(flags).reg(mr, key, access).build();
  }

  /** A LOCAL_INV of {@code key}: its fast-registration region becomes FREE. */
  public static SendWr localInv(long wrId, int flags, int key) {
    return builder(WrOpcode.LOCAL_INV).wrId(wrId).flags(flags).invalidateRkey(key).build();
  }

  /** A SEND_WITH_INV of {@code sges} that invalidates the responder's {@code rkey}. */
  public static SendWr sendWithInv(long wrId, int flags, int rkey, Sge... sges) {
    return builder(WrOpcode.SEND_WITH_INV).wrId(wrId).flags(flags).invalidateRkey(rkey).sges(sges).build();
  }

  /** A builder for any opcode. */
  public static Builder builder(WrOpcode opcode) {
    return new Builder(opcode);
  }

  /** True if {@code flag} (a {@link SendFlags} bit) is set. */
  public boolean has(int flag) {
    return (flags & flag) != 0;
  }

  /** Total bytes of the gather list. */
  public long length() {
    long total = 0;
    for (int i = 0, n = sgList.size(); i < n; i++) {
      total += sgList.get(i).length();
    }
    return total;
  }

  /**
   * Builder for {@link SendWr}. Not thread-safe: confine it to the thread that builds the request. Every
   * method never blocks.
   */
  public static final class Builder {
    private final WrOpcode opcode;
    private long wrId;
    private Cqe cqe;
    private int flags;
    private final List<Sge> sges = new ArrayList<>();
    private int immData;
    private long remoteAddr;
    private int rkey;
    private long compareAdd;
    private long swap;
    private int invalidateRkey;
    private AddressHandle ah;
    private int remoteQpn;
    private int remoteQkey;
    private MemoryRegion regMr;
    private int regKey;
    private int regAccess;

    private Builder(WrOpcode opcode) {
      this.opcode = opcode;
    }

    /** The id returned in the completion. */
    public Builder wrId(long v) { this.wrId = v; return this; }
    /** The completion callback for CQs polled by their actor, or null. */
    public Builder cqe(Cqe v) { this.cqe = v; return this; }
    /** The {@link SendFlags} bits. */
    public Builder flags(int v) { this.flags = v; return this; }
    /** Appends {@code v} to the gather list. */
    public Builder sges(Sge... v) { this.sges.addAll(List.of(v)); return this; }
    /** Appends one element to the gather list. */
    public Builder sge(Sge v) { this.sges.add(v); return this; }
    /** The immediate value of the *_WITH_IMM opcodes. */
    public Builder immData(int v) { this.immData = v; return this; }
    /** RDMA and atomic: the remote address and key. */
    public Builder remote(long addr, int key) { this.remoteAddr = addr; this.rkey = key; return this; }
    /** Atomic: the compare value or addend, and the swap value. */
    public Builder atomic(long compareOrAdd, long swapValue) { this.compareAdd = compareOrAdd; this.swap = swapValue; return this; }
    /** SEND_WITH_INV and LOCAL_INV: the key to invalidate. */
    public Builder invalidateRkey(int v) { this.invalidateRkey = v; return this; }

    /** UD: the destination's address handle, QP number and Q_Key. */
    public Builder ud(AddressHandle handle, int qpn, int qkey) {
      this.ah = handle;
      this.remoteQpn = qpn;
      this.remoteQkey = qkey;
      return this;
    }

    /** REG_MR: the region, the key it gets and the rights it grants. */
    public Builder reg(MemoryRegion mr, int key, int access) {
      this.regMr = mr;
      this.regKey = key;
      this.regAccess = access;
      return this;
    }

    /** The request; the builder's gather list is copied, so the builder may go on. */
    public SendWr build() {
      return new SendWr(wrId, cqe, opcode, flags, sges, immData, remoteAddr, rkey, compareAdd, swap,
          invalidateRkey, ah, remoteQpn, remoteQkey, regMr, regKey, regAccess);
    }
  }
}
