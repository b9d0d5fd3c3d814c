package dev.midlayer.internal.cm;

import dev.midlayer.cm.RejectReason;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.Mtu;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * The connection manager's messages between nodes ({@link CmProtocol}: the MADs of IB CM and the directory of
 * ports), in a compact binary form of their fields: no Java serialization, no Jackson. Bound in core's
 * {@code reference.conf}; used only when a message crosses JVMs (Artery), never inside one. CM messages are
 * rare (a handful per connection), so clarity wins over avoiding a copy.
 *
 * <p>Threading: stateless but for the resolver; Artery calls it from its own threads.
 */
public final class CmSerializer extends SerializerWithStringManifest {
  /** "MLCM". */
  private static final int ID = 0x4d4c434d;

  private final ExtendedActorSystem system;
  private volatile ActorRefResolver resolver;

  public CmSerializer(ExtendedActorSystem system) {
    this.system = system;
  }

  @Override
  public int identifier() {
    return ID;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof CmProtocol.Req) {
      return "REQ";
    }
    if (o instanceof CmProtocol.Rep) {
      return "REP";
    }
    if (o instanceof CmProtocol.Rtu) {
      return "RTU";
    }
    if (o instanceof CmProtocol.Rej) {
      return "REJ";
    }
    if (o instanceof CmProtocol.Dreq) {
      return "DREQ";
    }
    if (o instanceof CmProtocol.Drep) {
      return "DREP";
    }
    if (o instanceof CmProtocol.SidrReq) {
      return "SIDR_REQ";
    }
    if (o instanceof CmProtocol.SidrRep) {
      return "SIDR_REP";
    }
    if (o instanceof CmProtocol.Ports) {
      return "PORTS";
    }
    throw new IllegalArgumentException("not a CM message: " + o.getClass());
  }

  @Override
  public byte[] toBinary(Object o) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      write((CmProtocol) o, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private void write(CmProtocol m, DataOutputStream out) throws IOException {
    if (m instanceof CmProtocol.Req r) {
      gids(out, r.srcGid(), r.dstGid());
      out.writeLong(r.localCommId());
      out.writeLong(r.serviceId());
      out.writeInt(r.qpn());
      out.writeBoolean(r.uc());
      out.writeInt(r.startPsn());
      mtu(out, r.pathMtu());
      out.writeInt(r.responderResources());
      out.writeInt(r.initiatorDepth());
      out.writeInt(r.rnrRetryCount());
      out.writeInt(r.retryCount());
      out.writeInt(r.localAckTimeout());
      data(out, r.privateData());
    } else if (m instanceof CmProtocol.Rep r) {
      gids(out, r.srcGid(), r.dstGid());
      out.writeLong(r.localCommId());
      out.writeLong(r.remoteCommId());
      out.writeInt(r.qpn());
      out.writeInt(r.startPsn());
      mtu(out, r.pathMtu());
      out.writeInt(r.responderResources());
      out.writeInt(r.initiatorDepth());
      out.writeInt(r.rnrRetryCount());
      data(out, r.privateData());
    } else if (m instanceof CmProtocol.Rtu r) {
      conn(out, r.srcGid(), r.dstGid(), r.localCommId(), r.remoteCommId(), r.privateData());
    } else if (m instanceof CmProtocol.Rej r) {
      conn(out, r.srcGid(), r.dstGid(), r.localCommId(), r.remoteCommId(), r.privateData());
      reason(out, r.reason());
    } else if (m instanceof CmProtocol.Dreq r) {
      conn(out, r.srcGid(), r.dstGid(), r.localCommId(), r.remoteCommId(), r.privateData());
    } else if (m instanceof CmProtocol.Drep r) {
      conn(out, r.srcGid(), r.dstGid(), r.localCommId(), r.remoteCommId(), r.privateData());
    } else if (m instanceof CmProtocol.SidrReq r) {
      gids(out, r.srcGid(), r.dstGid());
      out.writeLong(r.requestId());
      out.writeLong(r.serviceId());
      data(out, r.privateData());
    } else if (m instanceof CmProtocol.SidrRep r) {
      gids(out, r.srcGid(), r.dstGid());
      out.writeLong(r.requestId());
      reason(out, r.reason());
      out.writeInt(r.qpn());
      out.writeInt(r.qkey());
      data(out, r.privateData());
    } else if (m instanceof CmProtocol.Ports r) {
      out.writeUTF(resolver().toSerializationFormat(r.cm()));
      out.writeUTF(r.node());
      out.writeBoolean(r.answer());
      out.writeInt(r.ports().size());
      for (CmProtocol.PortGids p : r.ports()) {
        out.writeUTF(p.deviceName());
        out.writeInt(p.port());
        out.writeInt(p.gids().size());
        for (Gid g : p.gids()) {
          gid(out, g);
        }
      }
    }
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      return switch (manifest) {
        case "REQ" -> new CmProtocol.Req(gid(in), gid(in), in.readLong(), in.readLong(), in.readInt(),
            in.readBoolean(), in.readInt(), mtu(in), in.readInt(), in.readInt(), in.readInt(), in.readInt(),
            in.readInt(), data(in));
        case "REP" -> new CmProtocol.Rep(gid(in), gid(in), in.readLong(), in.readLong(), in.readInt(), in.readInt(),
            mtu(in), in.readInt(), in.readInt(), in.readInt(), data(in));
        case "RTU" -> new CmProtocol.Rtu(gid(in), gid(in), in.readLong(), in.readLong(), data(in));
        case "REJ" -> {
          Gid s = gid(in);
          Gid d = gid(in);
          long l = in.readLong();
          long r = in.readLong();
          byte[] pd = data(in);
          yield new CmProtocol.Rej(s, d, l, r, reason(in), pd);
        }
        case "DREQ" -> new CmProtocol.Dreq(gid(in), gid(in), in.readLong(), in.readLong(), data(in));
        case "DREP" -> new CmProtocol.Drep(gid(in), gid(in), in.readLong(), in.readLong(), data(in));
        case "SIDR_REQ" -> new CmProtocol.SidrReq(gid(in), gid(in), in.readLong(), in.readLong(), data(in));
        case "SIDR_REP" -> new CmProtocol.SidrRep(gid(in), gid(in), in.readLong(), reason(in), in.readInt(),
            in.readInt(), data(in));
        case "PORTS" -> {
          ActorRef<CmProtocol> cm = resolver().resolveActorRef(in.readUTF());
          String node = in.readUTF();
          boolean answer = in.readBoolean();
          int n = in.readInt();
          List<CmProtocol.PortGids> ports = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            String dev = in.readUTF();
            int port = in.readInt();
            int g = in.readInt();
            List<Gid> gids = new ArrayList<>(g);
            for (int k = 0; k < g; k++) {
              gids.add(gid(in));
            }
            ports.add(new CmProtocol.PortGids(dev, port, gids));
          }
          yield new CmProtocol.Ports(cm, node, ports, answer);
        }
        default -> throw new IllegalArgumentException("unknown CM message manifest " + manifest);
      };
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ActorRefResolver resolver() {
    ActorRefResolver r = resolver;
    if (r == null) {
      r = ActorRefResolver.get(Adapter.toTyped(system));
      resolver = r;
    }
    return r;
  }

  private static void conn(DataOutputStream out, Gid s, Gid d, long local, long remote, byte[] pd) throws IOException {
    gids(out, s, d);
    out.writeLong(local);
    out.writeLong(remote);
    data(out, pd);
  }

  private static void gids(DataOutputStream out, Gid a, Gid b) throws IOException {
    gid(out, a);
    gid(out, b);
  }

  private static void gid(DataOutputStream out, Gid g) throws IOException {
    out.writeBoolean(g != null);
    if (g != null) {
      out.writeLong(g.subnetPrefix());
      out.writeLong(g.interfaceId());
    }
  }

  private static Gid gid(DataInputStream in) throws IOException {
    return in.readBoolean() ? new Gid(in.readLong(), in.readLong()) : null;
  }

  private static void mtu(DataOutputStream out, Mtu m) throws IOException {
    out.writeInt(m == null ? -1 : m.ordinal());
  }

  private static Mtu mtu(DataInputStream in) throws IOException {
    int o = in.readInt();
    return o < 0 ? null : Mtu.values()[o];
  }

  private static void reason(DataOutputStream out, RejectReason r) throws IOException {
    out.writeInt(r == null ? -1 : r.ordinal());
  }

  private static RejectReason reason(DataInputStream in) throws IOException {
    int o = in.readInt();
    return o < 0 ? null : RejectReason.values()[o];
  }

  private static void data(DataOutputStream out, byte[] d) throws IOException {
    out.writeInt(d == null ? -1 : d.length);
    if (d != null) {
      out.write(d);
    }
  }

  private static byte[] data(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0) {
      return null;
    }
    byte[] d = new byte[n];
    in.readFully(d);
    return d;
  }
}
