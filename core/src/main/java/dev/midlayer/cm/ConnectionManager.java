package dev.midlayer.cm;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The connection manager ({@code rdma_cm} over IB CM's exchange): listens for and makes RC/UC connections and
 * resolves UD services, moving the consumer's QPs RESET → INIT → RTR → RTS itself. One per midlayer, from
 * {@link Midlayer#connectionManager()}; it runs as an actor that finds the CMs of other actor systems through the
 * Pekko Receptionist, so it works in one JVM and, with the cluster receptionist, across nodes.
 *
 * <p>The exchange (IBTA vol. 1, ch. 12; Linux {@code drivers/infiniband/core/cm.c}): the active side moves its QP
 * to INIT and sends REQ (QPN, start PSN, path MTU, responder resources, initiator depth, RNR retry count); the
 * passive side's consumer accepts, its QP goes to INIT, RTR and RTS (as {@code rdma_accept} does in Linux's
 * {@code cma.c}), and REP goes back with its own values; the active side goes to RTR and RTS, sends RTU and is
 * established; the passive side is established when RTU arrives. A rejection sends REJ with a {@link RejectReason}; disconnection is DREQ/DREP, after which both QPs
 * are in ERR and both sides spend a while in timewait.
 *
 * <p><b>Where receives may be posted</b>: on a QP from INIT on, so on both sides before the connection is
 * established. The CM moves a RESET QP to INIT first thing ({@link #connect} on the active side,
 * {@link CmRequest#accept} on the passive one); a consumer that wants its receives in place before anything goes
 * out brings the QP to INIT itself with {@link #initQp} (as {@code rdma_create_qp} does) and posts them. The
 * passive side's QP is in RTS before REP is sent, and the active side's before RTU, so receives posted before
 * accept or connect are there for the peer's first send, and the passive side can answer a first send that
 * overtook the RTU.
 *
 * <p>Threading: every method returns at once (the work is done by the CM's actors) and <b>never blocks</b>; it may
 * be called from any thread, midlayer callbacks (atomic context) included. Events and stage completions never run
 * in the caller's call chain. Invalid arguments (oversized private data, a QP of the wrong type, state or device,
 * a port that does not exist) throw {@link dev.midlayer.ib.InvalidArgumentException} at once, naming the field.
 */
public interface ConnectionManager {
  /** The CM of {@code system}'s midlayer. Never blocks; any thread. */
  static ConnectionManager get(ActorSystem<?> system) {
    return Midlayer.get(system).connectionManager();
  }

  /**
   * Listens for REQs and SIDR_REQs for {@code serviceId} on port {@code port} of {@code device}
   * ({@code rdma_listen}); they arrive at {@code events} as {@link CmEvent.ConnectRequest} and
   * {@link CmEvent.SidrRequest}. <b>Never blocks</b>; any thread.
   *
   * @return a stage with the listener, failed with {@link dev.midlayer.registry.NameTakenException} if the service
   *     ID has a listener on that port already
   * @throws dev.midlayer.ib.InvalidArgumentException at once for a null device or events, or a port that the device
   *     does not have
   */
  CompletionStage<CmListener> listen(Device device, int port, long serviceId, CmEventSink events);

  /** As {@link #listen(Device, int, long, CmEventSink)} with a callback. */
  default CompletionStage<CmListener> listen(Device device, int port, long serviceId, CmEventHandler handler) {
    return listen(device, port, serviceId, CmEventSink.of(handler));
  }

  /** {@link #connect(Device, int, CmDestination, long, QueuePair, byte[], ConnectOptions)} with the defaults. */
  default CompletionStage<CmConnection> connect(Device device, int port, CmDestination destination, long serviceId,
      QueuePair qp, byte[] privateData) {
    return connect(device, port, destination, serviceId, qp, privateData, ConnectOptions.defaults());
  }

  /**
   * Connects {@code qp} (RC or UC, in RESET or INIT, of {@code device}) to the listener of {@code serviceId} at
   * {@code destination} ({@code rdma_connect}): the exchange in the class comment. <b>Never blocks</b>; any thread.
   *
   * @param privateData the REQ's private data, at most {@link PrivateDataLimits#REQ} bytes (null: none)
   * @return a stage that completes with the connection once it is established (RTU sent), or fails with
   *     {@link ConnectionRejectedException}: {@link RejectReason#UNREACHABLE} (no CM serves the destination),
   *     {@link RejectReason#NO_LISTENER}, {@link RejectReason#CONSUMER_REJECT} (with the REJ's private data),
   *     {@link RejectReason#TIMEOUT} ({@code midlayer.cm.connect-timeout}) or {@link RejectReason#DEVICE_REMOVED};
   *     the QP is then in ERR
   * @throws dev.midlayer.ib.InvalidArgumentException at once as the class comment says
   */
  CompletionStage<CmConnection> connect(Device device, int port, CmDestination destination, long serviceId,
      QueuePair qp, byte[] privateData, ConnectOptions options);

  /**
   * Resolves the UD service {@code serviceId} at {@code destination} with SIDR_REQ/SIDR_REP: the remote QP number
   * and Q_Key. <b>Never blocks</b>; any thread.
   *
   * @param privateData the SIDR_REQ's private data, at most {@link PrivateDataLimits#SIDR_REQ} bytes
   * @return a stage with the service, failed with {@link ConnectionRejectedException} as {@link #connect}
   * @throws dev.midlayer.ib.InvalidArgumentException at once for bad arguments
   */
  CompletionStage<UdRemote> resolveUd(Device device, int port, CmDestination destination, long serviceId,
      byte[] privateData);

  /**
   * Moves an RC or UC QP from RESET to INIT on {@code port} for a connection through the CM, with remote READ,
   * WRITE and atomics allowed (as {@code rdma_create_qp} does), so that receives can be posted before
   * {@link #connect} or {@link CmRequest#accept}. <b>Never blocks</b> (the stage completes when the modify is
   * applied); any thread, callbacks included.
   */
  CompletionStage<org.apache.pekko.Done> initQp(QueuePair qp, int port);
}
