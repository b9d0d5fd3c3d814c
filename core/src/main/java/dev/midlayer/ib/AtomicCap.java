package dev.midlayer.ib;

/**
 * How atomic a device's atomic operations are ({@code atomic_cap}), as {@code enum ib_atomic_cap} of Linux's
 * {@code include/rdma/ib_verbs.h} and {@code enum ibv_atomic_cap} of rdma-core's {@code libibverbs/verbs.h}
 * define it: NONE = 0, HCA = 1, GLOB = 2. {@link #name()} is what {@code ibv_devinfo -v} prints
 * ({@code atomic_cap: ATOMIC_HCA (1)}).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum AtomicCap {
  /** The device does not execute atomic operations. */
  ATOMIC_NONE(0),
  /** Atomic only with respect to the atomic operations of the device itself, not to the CPU's. */
  ATOMIC_HCA(1),
  /** Atomic with respect to every atomic on that memory: the device's, other devices' and the CPU's. */
  ATOMIC_GLOB(2);

  private final int value;

  AtomicCap(int value) {
    this.value = value;
  }

  /** The IB numeric value (0..2). */
  public int value() {
    return value;
  }
}
