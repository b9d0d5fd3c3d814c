package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Aeth;
import dev.midlayer.drivers.engine.Endpoint;
import dev.midlayer.drivers.engine.Packet;

/**
 * Where the packets for one QP of a {@link ClusterDevice} arrive: registered with
 * {@link ClusterDevice#bind(int, PacketSink)}. The QP's engine implements it (typically by telling its actor).
 *
 * <p>A packet of a message the wire segmented arrives once, reassembled; its payload is
 * {@link dev.midlayer.drivers.engine.Payload.Bytes} (or null: none). A request whose requester's SGEs did not
 * resolve when the sending node read them ({@link #requesterKeyInvalid(Packet)}) arrives without payload; the
 * responder answers it with {@code Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION)}.
 */
@FunctionalInterface
public interface PacketSink {
  /**
   * Hands over {@code count} packets, in the order the sender sent them, all from {@code from} (the sending
   * QP's port as seen from here: send the answers to it, through this QP's own {@link ClusterLink}).
   *
   * <p>Called in a turn of the node's inbound actor (on the {@code midlayer.cluster.dispatcher}), one call at a
   * time per node. <b>Must not sleep</b> or block. {@code packets} is reused after the call returns: copy out
   * what you keep (the packets themselves are immutable and may be kept).
   */
  void deliver(Endpoint from, Packet[] packets, int count);

  /**
   * True if {@code p} is a request whose payload the sender could not read: a key of the requester's SGEs no
   * longer resolved (or not in its PD, or not covering the range) when the frame was written. The wire flags
   * it; it arrives as the request with {@code aeth = Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION)} (a request
   * otherwise has aeth 0) and no payload. Pure; never blocks; any thread.
   */
  static boolean requesterKeyInvalid(Packet p) {
    return p.opcode().isRequest() && Aeth.isNak(p.aeth()) && Aeth.value(p.aeth()) == Aeth.NAK_REQUESTER_PROTECTION;
  }
}
