package dev.midlayer.verbs;

/** How a memory region was made, which decides how its keys and translation change. */
public enum MrType {
  /** {@link ProtectionDomain#registerMr}: one buffer, keys fixed until deregistered ({@code ib_reg_mr}). */
  USER,
  /**
   * {@link ProtectionDomain#allocMr}: fast registration ({@code IB_MR_TYPE_MEM_REG}). FREE until a
   * {@link dev.midlayer.ib.WrOpcode#REG_MR} makes it VALID; LOCAL_INV or SEND_WITH_INV makes it FREE again.
   */
  MEM_REG,
  /** The region behind an {@link Fmr}: mapped and unmapped by verbs, a new key each map. */
  FMR
}
