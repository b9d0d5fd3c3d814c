package dev.midlayer.ib;

/**
 * Path MTU ({@code enum ib_mtu}); the numeric value is the IB enum value, {@link #bytes()} the size.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum Mtu {
  MTU_256(1, 256),
  MTU_512(2, 512),
  MTU_1024(3, 1024),
  MTU_2048(4, 2048),
  MTU_4096(5, 4096);

  private final int value;
  private final int bytes;

  Mtu(int value, int bytes) {
    this.value = value;
    this.bytes = bytes;
  }

  /** The IB enum value (1..5). */
  public int value() {
    return value;
  }

  /** The MTU in bytes. */
  public int bytes() {
    return bytes;
  }
}
