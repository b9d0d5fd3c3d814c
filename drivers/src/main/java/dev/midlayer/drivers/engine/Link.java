package dev.midlayer.drivers.engine;

import dev.midlayer.ib.AhAttr;

/**
 * How one QP's engine reaches its peers: the driver's half of the engine. The engine hands the link transport
 * {@link Packet}s; the link carries them to the engine of the destination QP, which receives them as
 * {@link QpEngine.Inbound} messages naming the {@link Endpoint} to answer. A loopback link tells the peer QP's
 * actor directly; the cluster driver's link writes frames to another JVM over Artery.
 *
 * <p>A link may keep packets until {@link #flush()}, which the engine calls at the end of every turn that sent
 * something: a burst of packets then costs one message (a frame). A link may lose packets (no route, a port
 * down, a wire that drops them): RC recovers by retransmission, UC and UD lose the message, as IB does. A link
 * never reorders the packets of one QP unless a fault plan tells it to.
 *
 * <p>Threading: one link per QP, used only from its engine's turns (the QP's actor); never blocks.
 */
public interface Link {
  /** RC and UC: the peer QP of the QP's AV and DEST_QPN, or null if there is no route to it now. */
  Endpoint connected();

  /** UD: the QP {@code destQpn} behind the address handle {@code ah}, or null if there is no route to it. */
  Endpoint datagram(AhAttr ah, int destQpn);

  /**
   * Sends {@code packet} to {@code to} now or at the next {@link #flush()}.
   *
   * @param attempt which transmission of this request it is (0: the first), for fault plans; answers pass 0
   */
  void send(Endpoint to, Packet packet, int attempt);

  /** The engine's turn ends: everything kept since the last flush leaves now. */
  void flush();

  /**
   * True if the peer engines are in this JVM and a responder may read and write the requester's registered
   * memory directly ({@link Payload.Wqe}): READ data and atomic results are then placed by the responder,
   * and a plain ACK completes them. False for a wire: the responder answers with READ responses and atomic
   * acknowledgements that carry the data.
   */
  default boolean sharesMemory() {
    return false;
  }

  /** The QP's path changed (a modify of its AV or DEST_QPN): routes resolved before are stale. Any thread. */
  default void pathChanged() {}
}
