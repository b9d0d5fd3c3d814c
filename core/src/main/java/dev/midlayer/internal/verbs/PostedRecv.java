package dev.midlayer.internal.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.verbs.RecvWr;

/** Internal API. A receive work request in a receive queue or an SRQ ({@link RecvWqe}). Immutable; any thread. */
public final class PostedRecv implements RecvWqe {
  private final RecvWr wr;

  PostedRecv(RecvWr wr) {
    this.wr = wr;
  }

  /** The consumer's request. */
  public RecvWr wr() {
    return wr;
  }

  /** The completion callback of the request, or null. */
  public Cqe cqe() {
    return wr.cqe();
  }

  @Override
  public long wrId() {
    return wr.wrId();
  }

  @Override
  public int sgeCount() {
    return wr.sgList().size();
  }

  @Override
  public long sgeAddr(int i) {
    return wr.sgList().get(i).addr();
  }

  @Override
  public int sgeLength(int i) {
    return wr.sgList().get(i).length();
  }

  @Override
  public int sgeLkey(int i) {
    return wr.sgList().get(i).lkey();
  }

  @Override
  public long capacity() {
    // Summed when the driver matches a message to it, on the driver's thread, not on the poster's.
    return wr.capacity();
  }

  @Override
  public String toString() {
    return "posted " + wr;
  }
}
