package dev.midlayer.spi;

/**
 * A receive work request as posted to a QP's receive queue or a shared receive queue
 * ({@code struct ib_recv_wr}). A driver takes it with {@link QpContext#takeRecv()} and finishes it with
 * exactly one of {@link QpContext#completeRecv} or {@link QpContext#completeRecvError}; after that it must
 * not touch it.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public interface RecvWqe extends SgList {
  /** The consumer's {@code wr_id}, returned in the completion. */
  long wrId();


  /** Total bytes the request can take. */
  long capacity();
}
