package dev.midlayer.ib;


/**
 * Memory and QP access rights ({@code enum ib_access_flags}) as int bits. Local read is always allowed.
 * The IB rule, checked by {@link #validateMr}: REMOTE_WRITE or REMOTE_ATOMIC need LOCAL_WRITE, and no
 * unknown bit may be set.
 *
 * <p>Threading: stateless; every method never blocks and may be called from any thread.
 */
public final class AccessFlags {
  private AccessFlags() {}

  public static final int LOCAL_WRITE = 1;
  public static final int REMOTE_WRITE = 1 << 1;
  public static final int REMOTE_READ = 1 << 2;
  public static final int REMOTE_ATOMIC = 1 << 3;
  public static final int MW_BIND = 1 << 4;

  /** Every bit the midlayer knows. */
  public static final int ALL = LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ | REMOTE_ATOMIC | MW_BIND;

  /** The remote rights a QP's access flags may grant (what the QP accepts as responder). */
  public static final int QP_ALL = REMOTE_WRITE | REMOTE_READ | REMOTE_ATOMIC;

  /** True if {@code access} grants any remote right (then a region's rkey is non-zero). */
  public static boolean anyRemote(int access) {
    return (access & QP_ALL) != 0;
  }

  /**
   * Checks memory region access flags.
   *
   * @throws InvalidArgumentException naming {@code field} if a bit is unknown or REMOTE_WRITE /
   *     REMOTE_ATOMIC come without LOCAL_WRITE
   */
  public static int validateMr(int access, String field) {
    if ((access & ~ALL) != 0) {
      throw new InvalidArgumentException(field, String.format("unknown access bits 0x%x", access & ~ALL));
    }
    if ((access & (REMOTE_WRITE | REMOTE_ATOMIC)) != 0 && (access & LOCAL_WRITE) == 0) {
      throw new InvalidArgumentException(field, "REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE");
    }
    return access;
  }

  /** Checks QP access flags (only remote rights are meaningful on a QP). */
  public static int validateQp(int access, String field) {
    if ((access & ~(QP_ALL | LOCAL_WRITE)) != 0) {
      throw new InvalidArgumentException(field,
          String.format("QP access flags take REMOTE_WRITE, REMOTE_READ, REMOTE_ATOMIC; got 0x%x", access));
    }
    return access;
  }

  /** A readable form such as {@code LOCAL_WRITE|REMOTE_READ}. */
  public static String toString(int access) {
    StringBuilder sb = new StringBuilder();
    String[] names = {"LOCAL_WRITE", "REMOTE_WRITE", "REMOTE_READ", "REMOTE_ATOMIC", "MW_BIND"};
    for (int i = 0; i < names.length; i++) {
      if ((access & (1 << i)) != 0) {
        sb.append(sb.length() == 0 ? "" : "|").append(names[i]);
      }
    }
    return sb.length() == 0 ? "0" : sb.toString();
  }
}
