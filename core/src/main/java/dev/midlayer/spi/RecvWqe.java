package dev.midlayer.spi;

/**
 * A receive work request as posted to a QP's receive queue or a shared receive queue
 * ({@code struct ib_recv_wr}). A driver takes it with {@link QpContext#takeRecv()} and finishes it with
 * exactly one of {@link QpContext#completeRecv} or {@link QpContext#completeRecvError}; after that it must
 * not touch it. Immutable; any thread.
 */
public interface RecvWqe extends SgList {
  long wrId();


  /** Total bytes the request can take. */
  long capacity();
}
