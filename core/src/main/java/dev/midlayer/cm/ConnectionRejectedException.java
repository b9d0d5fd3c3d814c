package dev.midlayer.cm;

import dev.midlayer.ib.MidlayerException;

/**
 * The failure of a {@link ConnectionManager#connect}, {@link CmRequest#accept} or {@link ConnectionManager#resolveUd}
 * stage: the connection was not made, for {@link #reason()}, with the peer's REJ private data if it sent any. Getters never block; any thread.
 */
public final class ConnectionRejectedException extends MidlayerException {
  private static final long serialVersionUID = 1L;
  private final RejectReason reason;
  private final byte[] privateData;

  /** For {@code reason}, with a copy of the REJ's private data (null: none) and a detail for the message. */
  public ConnectionRejectedException(RejectReason reason, byte[] privateData, String detail) {
    super(reason + ": " + detail);
    this.reason = reason;
    this.privateData = privateData == null ? new byte[0] : privateData.clone();
  }

  /** Why the connection was not made. */
  public RejectReason reason() {
    return reason;
  }

  /** The REJ's private data (a copy); empty if none came. */
  public byte[] privateData() {
    return privateData.clone();
  }
}
