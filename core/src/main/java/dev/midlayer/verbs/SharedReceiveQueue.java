package dev.midlayer.verbs;

import dev.midlayer.device.Device;
import dev.midlayer.ib.SrqAttr;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A shared receive queue ({@code struct ib_srq}): one pool of receive WRs that every QP attached to it
 * takes from, in posting order. Created with {@link ProtectionDomain#createSrq}.
 *
 * <p>Threading: {@link #postRecv} <b>never blocks and may be called from any thread and any context</b>.
 * {@link #modify} and {@link #destroy} <b>may sleep</b> (not from atomic context).
 */
public interface SharedReceiveQueue {
  /** The protection domain. */
  ProtectionDomain pd();

  /** The device. */
  default Device device() {
    return pd().device();
  }

  /** The SRQ's number on its device. */
  int number();

  /** The context given at creation, or null. */
  Object context();

  /** The current attributes ({@code ib_query_srq}): maxWr, maxSge and the armed limit. Never blocks. */
  SrqAttr query();

  /** Receive WRs posted and not yet taken by a QP. Never blocks. */
  int outstanding();

  /** Posts one receive; see {@link #postRecv(List)}. */
  void postRecv(RecvWr wr);

  /**
   * Posts receive WRs ({@code ib_post_srq_recv}) in order; stops at the first that cannot be posted, the
   * earlier ones stay posted. <b>Never blocks; any thread and any context.</b>
   *
   * @throws PostException {@code INVALID} for too many SGEs or a destroyed SRQ, {@code QUEUE_FULL} when
   *     {@code maxWr} are outstanding
   * @throws dev.midlayer.device.DeviceUnregisteredException if the device's unregistration completed
   */
  void postRecv(List<RecvWr> wrs);

  /**
   * Arms the limit ({@code ib_modify_srq} with {@link SrqAttr#LIMIT}). Resizing ({@link SrqAttr#MAX_WR}) is
   * not supported. <b>May sleep</b>: not from atomic context.
   */
  CompletionStage<Done> modify(SrqAttr attr, int mask);

  /**
   * Destroys the SRQ ({@code ib_destroy_srq}). <b>May sleep</b>: not from atomic context.
   *
   * @return a stage that fails with {@link ResourceBusyException} while QPs are attached
   */
  CompletionStage<Done> destroy();
}
