package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.ib.Gid;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/** The messages between the nodes of a cluster fabric. Immutable once sent; any thread. */
final class Wire {
  private Wire() {}

  /** Unit kinds: a whole message, or the first, a middle or the last MTU segment of one. */
  static final int WHOLE = 0;
  static final int FIRST = 1;
  static final int MIDDLE = 2;
  static final int LAST = 3;

  /** One port of a node's directory: its device number, port number, GID and active MTU in bytes. */
  record PortEntry(int device, int port, Gid gid, int mtu) {}

  /**
   * A node's directory: its incarnation uid, its control (directory) and data (frame) actors, and its ports. Sent
   * to every peer when the Receptionist lists it, and again whenever the node's devices change; each one
   * replaces the last ({@code version} grows).
   */
  record Directory(long uid, ActorRef<NodeActor.Command> control, ActorRef<Inbound.Command> data, long version,
      List<PortEntry> ports) implements NodeActor.Command, WireMessage {
    Directory {
      ports = List.copyOf(ports);
    }
  }

  /** Credit grant: the node {@code fromUid} consumed every frame the receiver sent it up to seq {@code upTo}. */
  record Credit(long fromUid, long upTo) implements NodeActor.Command, WireMessage {}

  /** One message (or one MTU segment of it) in an outbound frame: {@code length} bytes from {@code offset}. */
  record Unit(Outgoing out, int kind, long offset, int length) {}

  /**
   * A frame as the sender builds it: packets by reference, payload bytes still in the requester's registered
   * memory; the serializer copies them into Artery's envelope buffer. {@code seq} counts the frames to this
   * peer from 1; a sync frame has no units and repeats the last seq. {@code bytes} bounds the encoded size.
   */
  record Frame(long senderUid, long seq, Unit[] units, int count, int bytes) implements Inbound.Command,
      WireMessage {}

  /** A unit as decoded: for WHOLE and FIRST the headers and the message's payload length (-1: none). */
  record Decoded(int kind, int flags, int srcDevice, int srcPort, int dstDevice, int dstPort, Packet header,
      int total, byte[] data) {}

  /** A frame as the receiver decoded it. */
  record InboundFrame(long senderUid, long seq, Decoded[] units) implements Inbound.Command, WireMessage {}
}
