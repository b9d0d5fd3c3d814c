package dev.midlayer.cm;

import dev.midlayer.ib.InvalidArgumentException;

/**
 * The private data each CM message can carry, in bytes, as in IB CM (IBTA vol. 1, §12.6; Linux
 * {@code include/rdma/ib_cm.h}, {@code IB_CM_*_PRIVATE_DATA_SIZE}). A call with more gets an
 * {@link InvalidArgumentException} at once, naming the field and the limit. Stateless; any thread.
 */
public final class PrivateDataLimits {
  /** REQ: 92 bytes. */
  public static final int REQ = 92;
  /** REP: 196 bytes. */
  public static final int REP = 196;
  /** REJ: 148 bytes. */
  public static final int REJ = 148;
  /** RTU: 224 bytes. */
  public static final int RTU = 224;
  /** DREQ: 220 bytes. */
  public static final int DREQ = 220;
  /** DREP: 224 bytes. */
  public static final int DREP = 224;
  /** SIDR_REQ: 216 bytes. */
  public static final int SIDR_REQ = 216;
  /** SIDR_REP: 136 bytes. */
  public static final int SIDR_REP = 136;

  private PrivateDataLimits() {}

  /**
   * A copy of {@code data} (null: empty) if it fits the {@code message}'s limit. Never blocks; any thread.
   *
   * @param field the argument's name, for the error (e.g. {@code "privateData"})
   * @param message the CM message that carries it, for the error (e.g. {@code "REQ"})
   * @param limit the message's limit, one of the constants here
   * @throws InvalidArgumentException naming field, message and limit if {@code data} is longer
   */
  public static byte[] check(String field, String message, int limit, byte[] data) {
    if (data == null) {
      return new byte[0];
    }
    if (data.length > limit) {
      throw new InvalidArgumentException(field, data.length + " bytes of " + message
          + " private data; IB CM allows at most " + limit);
    }
    return data.clone();
  }
}
