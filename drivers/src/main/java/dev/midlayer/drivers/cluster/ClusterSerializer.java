package dev.midlayer.drivers.cluster;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * The serializer of the cluster fabric's {@link WireMessage}s, bound in the module's {@code reference.conf}. It
 * implements {@link ByteBufferSerializer}, so Artery hands it its envelope buffer: a frame's payload bytes go
 * from the requester's registered memory straight into that buffer ({@link FrameCodec}), with no byte array in
 * between. Manifests: {@code F} frame, {@code D} directory, {@code C} credit grant.
 *
 * <p>Pekko calls it from its serialization threads (Artery's encoder and decoder stages); it keeps no state
 * but the lazily resolved {@link ActorRefResolver}. Never blocks.
 */
public final class ClusterSerializer extends SerializerWithStringManifest implements ByteBufferSerializer {
  /** "MLC1": outside Pekko's reserved 0..40. */
  static final int IDENTIFIER = 0x4d4c4331;

  private final ExtendedActorSystem system;
  private volatile ActorRefResolver refs;
  private volatile Transfers transfers;

  /** Made by Pekko's serialization extension, reflectively. Never blocks. */
  public ClusterSerializer(ExtendedActorSystem system) {
    this.system = system;
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof Wire.Frame || o instanceof Wire.InboundFrame) {
      return "F";
    } else if (o instanceof Wire.Directory) {
      return "D";
    } else if (o instanceof Wire.Credit) {
      return "C";
    }
    throw new IllegalArgumentException("not a cluster wire message: " + o.getClass());
  }

  /** Artery's path: writes into its envelope buffer. Never blocks; Artery's encoder thread. */
  @Override
  public void toBinary(Object o, ByteBuffer buf) {
    if (o instanceof Wire.Frame f) {
      Transfers t = transfers();
      t.enter(f);
      try {
        FrameCodec.encode(f, buf);
      } finally {
        t.leave(f);
      }
    } else if (o instanceof Wire.Directory d) {
      FrameCodec.encodeDirectory(d, buf, refs());
    } else if (o instanceof Wire.Credit c) {
      FrameCodec.encodeCredit(c, buf);
    } else {
      throw new IllegalArgumentException("cannot serialize " + o.getClass() + " (an inbound frame is never sent)");
    }
  }

  /** Artery's path: reads from its envelope buffer. Never blocks; Artery's decoder thread. */
  @Override
  public Object fromBinary(ByteBuffer buf, String manifest) throws NotSerializableException {
    switch (manifest) {
      case "F":
        return FrameCodec.decodeFrame(buf);
      case "D":
        return FrameCodec.decodeDirectory(buf, refs());
      case "C":
        return FrameCodec.decodeCredit(buf);
      default:
        throw new NotSerializableException("unknown manifest " + manifest);
    }
  }

  /** The byte-array path (other transports, {@code serialize-messages}). Never blocks; any thread. */
  @Override
  public byte[] toBinary(Object o) {
    int size;
    if (o instanceof Wire.Frame f) {
      size = f.bytes();
    } else if (o instanceof Wire.Directory d) {
      size = FrameCodec.directoryBytes(d, refs());
    } else {
      size = 16;
    }
    ByteBuffer buf = ByteBuffer.allocate(size);
    toBinary(o, buf);
    byte[] out = new byte[buf.position()];
    buf.flip().get(out);
    return out;
  }

  /** The byte-array path. Never blocks; any thread. */
  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    return fromBinary(ByteBuffer.wrap(bytes), manifest);
  }

  private ActorRefResolver refs() {
    ActorRefResolver r = refs;
    if (r == null) {
      refs = r = ActorRefResolver.get(Adapter.toTyped(system));
    }
    return r;
  }

  private Transfers transfers() {
    Transfers t = transfers;
    if (t == null) {
      transfers = t = ClusterFabric.get(Adapter.toTyped(system)).transfers();
    }
    return t;
  }
}
