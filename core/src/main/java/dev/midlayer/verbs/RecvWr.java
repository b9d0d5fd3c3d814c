package dev.midlayer.verbs;

import dev.midlayer.cq.Cqe;
import dev.midlayer.ib.InvalidArgumentException;
import java.util.List;

/**
 * A receive work request ({@code struct ib_recv_wr}): where to scatter an incoming message, in order. A
 * zero-length message needs no SGE. Immutable; the same instance may be posted again and again.
 *
 * <p>Threading: every method never blocks and may be called from any thread.
 *
 * @param wrId returned in the completion
 * @param cqe the completion callback for CQs polled by their actor, or null
 * @param sgList the buffers, in scatter order
 */
public record RecvWr(long wrId, Cqe cqe, List<Sge> sgList) {
  /** Copies {@code sgList}, which must not be null. */
  public RecvWr {
    InvalidArgumentException.requireNonNull(sgList, "sgList");
    sgList = List.copyOf(sgList);
  }

  /** A receive into {@code sges}. */
  public static RecvWr of(long wrId, Sge... sges) {
    return new RecvWr(wrId, null, List.of(sges));
  }

  /** A receive into {@code sges} whose completion goes to {@code cqe}. */
  public static RecvWr of(Cqe cqe, Sge... sges) {
    return new RecvWr(0, cqe, List.of(sges));
  }

  /** Total bytes the request can take. */
  public long capacity() {
    long total = 0;
    for (int i = 0, n = sgList.size(); i < n; i++) {
      total += sgList.get(i).length();
    }
    return total;
  }
}
