package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Aeth;
import dev.midlayer.drivers.engine.Grh;
import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.ib.Gid;
import dev.midlayer.spi.MemoryKeys;
import dev.midlayer.spi.MemoryMapping;
import dev.midlayer.spi.SendWqe;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRefResolver;

/**
 * The byte layout of the wire messages (big-endian), see the README's "Cluster driver" section. Frame:
 *
 * <pre>
 * frame   := version:u8 senderUid:i64 seq:i64 units:i32 unit*
 * unit    := kind:u8 flags:u8 [headers] segLen:i32 bytes[segLen]      headers only for WHOLE and FIRST
 * headers := srcDevice:i32 srcPort:u8 dstDevice:i32 dstPort:u8 opcode:u8 srcQpn:i32 destQpn:i32 psn:i32
 *            epoch:i64 aeth:i32 remoteAddr:i64 rkey:i32 dmaLength:i32 immOrKey:i32 compareAdd:i64 swap:i64
 *            atomicOriginal:i64 qkey:i32 slid:i32 [grh] total:i32     total -1: no payload
 * grh     := sgid:16 dgid:16 trafficClass:u8 flowLabel:i32 hopLimit:u8  (if flags has GRH)
 * </pre>
 *
 * The payload bytes of a {@link Payload.Wqe} are read from the requester's registered memory while the frame is
 * written (its SGEs resolved with the owner QP's keys, checked for PD and range as the loopback's SgCopy does),
 * with one bulk put per contiguous piece; if a key does not resolve then, the unit is written without bytes and
 * with flag {@link #BAD_KEY}. Stateless; any thread; never blocks.
 */
final class FrameCodec {
  private FrameCodec() {}

  static final int VERSION = 1;
  static final int FRAME_HEADER = 1 + 8 + 8 + 4;
  /** kind, flags, segLen. */
  static final int SEG_HEADER = 1 + 1 + 4;
  /** A WHOLE or FIRST unit's headers without the GRH. */
  static final int FULL_HEADER = SEG_HEADER + 4 + 1 + 4 + 1 + 1 + 4 + 4 + 4 + 8 + 4 + 8 + 4 + 4 + 4 + 8 + 8 + 8
      + 4 + 4 + 4;
  static final int GRH_BYTES = 16 + 16 + 1 + 4 + 1;
  static final int MAX_UNIT_HEADER = FULL_HEADER + GRH_BYTES;

  static final int ACK_REQUEST = 1;
  static final int SOLICITED = 2;
  static final int HAS_GRH = 4;
  /** The requester's SGEs did not resolve when this unit was written: no bytes follow. */
  static final int BAD_KEY = 16;

  /** Encoded size of a unit of {@code segLen} payload bytes. */
  static int unitBytes(Packet p, int kind, int segLen) {
    if (kind == Wire.WHOLE || kind == Wire.FIRST) {
      return FULL_HEADER + (p.grh() == null ? 0 : GRH_BYTES) + segLen;
    }
    return SEG_HEADER + segLen;
  }

  // ---- frames ----

  static void encode(Wire.Frame f, ByteBuffer out) {
    out.put((byte) VERSION);
    out.putLong(f.senderUid());
    out.putLong(f.seq());
    out.putInt(f.count());
    for (int i = 0; i < f.count(); i++) {
      encodeUnit(f.units()[i], out);
    }
  }

  private static void encodeUnit(Wire.Unit u, ByteBuffer out) {
    Packet p = u.out().packet();
    ClusterEndpoint to = u.out().to();
    int flagsAt = out.position() + 1;
    out.put((byte) u.kind());
    int flags = (p.ackRequest() ? ACK_REQUEST : 0) | (p.solicited() ? SOLICITED : 0)
        | (p.grh() != null ? HAS_GRH : 0);
    out.put((byte) flags);
    if (u.kind() == Wire.WHOLE || u.kind() == Wire.FIRST) {
      out.putInt(to.localDevice().number());
      out.put((byte) to.localPort());
      out.putInt(to.remoteDevice());
      out.put((byte) to.remotePort());
      out.put((byte) p.opcode().ordinal());
      out.putInt(p.srcQpn());
      out.putInt(p.destQpn());
      out.putInt(p.psn());
      out.putLong(p.epoch());
      out.putInt(p.aeth());
      out.putLong(p.remoteAddr());
      out.putInt(p.rkey());
      out.putInt(p.dmaLength());
      out.putInt(p.immOrKey());
      out.putLong(p.compareAdd());
      out.putLong(p.swap());
      out.putLong(p.atomicOriginal());
      out.putInt(p.qkey());
      out.putInt(p.slid());
      if (p.grh() != null) {
        Grh g = p.grh();
        putGid(out, g.sgid());
        putGid(out, g.dgid());
        out.put((byte) g.trafficClass());
        out.putInt(g.flowLabel());
        out.put((byte) g.hopLimit());
      }
      out.putInt(p.payload() == null ? -1 : (int) p.payload().length());
    }
    int lenAt = out.position();
    out.putInt(u.length());
    if (u.length() == 0) {
      return;
    }
    if (!putPayload(p.payload(), u.offset(), u.length(), out)) {
      out.position(lenAt);
      out.putInt(0);
      out.put(flagsAt, (byte) (flags | BAD_KEY));
    }
  }

  /** Writes {@code len} bytes of the payload from {@code offset}; false (position undefined) if a key failed. */
  static boolean putPayload(Payload payload, long offset, int len, ByteBuffer out) {
    if (payload instanceof Payload.Bytes b) {
      out.put(b.data(), (int) offset, len);
      return true;
    }
    Payload.Wqe w = (Payload.Wqe) payload;
    SendWqe wr = w.wr();
    if (wr.inlineData() != null) {
      out.put(wr.inlineData(), (int) offset, len);
      return true;
    }
    MemoryKeys keys = w.owner().device().memory();
    int pd = w.owner().pdHandle();
    long skip = offset;
    int left = len;
    for (int i = 0, n = wr.sgeCount(); i < n && left > 0; i++) {
      int sgeLen = wr.sgeLength(i);
      if (skip >= sgeLen) {
        skip -= sgeLen;
        continue;
      }
      int lkey = wr.sgeLkey(i);
      long sgeAddr = wr.sgeAddr(i);
      MemoryMapping m = keys.resolve(lkey);
      if (m == null || m.lkey() != lkey || m.pdHandle() != pd || !m.contains(sgeAddr, sgeLen)) {
        return false;
      }
      long addr = sgeAddr + skip;
      int k = (int) Math.min(left, sgeLen - skip);
      skip = 0;
      left -= k;
      while (k > 0) {
        int run = (int) Math.min(k, m.run(addr));
        out.put(out.position(), m.buffer(addr), m.index(addr), run);
        out.position(out.position() + run);
        addr += run;
        k -= run;
      }
    }
    return left == 0;
  }

  static Wire.InboundFrame decodeFrame(ByteBuffer in) {
    int version = in.get() & 0xff;
    if (version != VERSION) {
      throw new IllegalArgumentException("frame version " + version + ", expected " + VERSION);
    }
    long uid = in.getLong();
    long seq = in.getLong();
    int n = in.getInt();
    Wire.Decoded[] units = new Wire.Decoded[n];
    for (int i = 0; i < n; i++) {
      units[i] = decodeUnit(in);
    }
    return new Wire.InboundFrame(uid, seq, units);
  }

  private static Wire.Decoded decodeUnit(ByteBuffer in) {
    int kind = in.get() & 0xff;
    int flags = in.get() & 0xff;
    int srcDevice = 0;
    int srcPort = 0;
    int dstDevice = 0;
    int dstPort = 0;
    Packet header = null;
    int total = -1;
    if (kind == Wire.WHOLE || kind == Wire.FIRST) {
      srcDevice = in.getInt();
      srcPort = in.get() & 0xff;
      dstDevice = in.getInt();
      dstPort = in.get() & 0xff;
      Opcode op = Opcode.of(in.get() & 0xff);
      int srcQpn = in.getInt();
      int destQpn = in.getInt();
      int psn = in.getInt();
      long epoch = in.getLong();
      int aeth = in.getInt();
      long remoteAddr = in.getLong();
      int rkey = in.getInt();
      int dmaLength = in.getInt();
      int immOrKey = in.getInt();
      long compareAdd = in.getLong();
      long swap = in.getLong();
      long atomicOriginal = in.getLong();
      int qkey = in.getInt();
      int slid = in.getInt();
      Grh grh = null;
      if ((flags & HAS_GRH) != 0) {
        Gid sgid = getGid(in);
        Gid dgid = getGid(in);
        int tc = in.get() & 0xff;
        int flow = in.getInt();
        int hop = in.get() & 0xff;
        grh = new Grh(sgid, dgid, tc, flow, hop);
      }
      total = in.getInt();
      header = new Packet(op, srcQpn, destQpn, psn, (flags & ACK_REQUEST) != 0, (flags & SOLICITED) != 0, epoch,
          aeth, remoteAddr, rkey, dmaLength, immOrKey, compareAdd, swap, atomicOriginal, qkey, slid, grh, null);
    } else if (kind != Wire.MIDDLE && kind != Wire.LAST) {
      throw new IllegalArgumentException("unit kind " + kind);
    }
    int segLen = in.getInt();
    byte[] data = new byte[segLen];
    in.get(data);
    return new Wire.Decoded(kind, flags, srcDevice, srcPort, dstDevice, dstPort, header, total, data);
  }

  /** The packet a whole message decodes to: its payload, or the flagged request of {@link PacketSink}. */
  static Packet complete(Packet header, int total, byte[] data, boolean badKey) {
    if (badKey) {
      return withPayload(header, Aeth.nak(Aeth.NAK_REQUESTER_PROTECTION), null);
    }
    return withPayload(header, header.aeth(), total < 0 ? null : new Payload.Bytes(data));
  }

  private static Packet withPayload(Packet h, int aeth, Payload payload) {
    return new Packet(h.opcode(), h.srcQpn(), h.destQpn(), h.psn(), h.ackRequest(), h.solicited(), h.epoch(), aeth,
        h.remoteAddr(), h.rkey(), h.dmaLength(), h.immOrKey(), h.compareAdd(), h.swap(), h.atomicOriginal(),
        h.qkey(), h.slid(), h.grh(), payload);
  }

  // ---- control messages ----

  static int directoryBytes(Wire.Directory d, ActorRefResolver refs) {
    // A UTF-8 char takes at most 3 bytes.
    return 8 + 4 + 3 * refs.toSerializationFormat(d.control()).length() + 4
        + 3 * refs.toSerializationFormat(d.data()).length() + 8 + 4 + d.ports().size() * (4 + 1 + 16 + 4);
  }

  static void encodeDirectory(Wire.Directory d, ByteBuffer out, ActorRefResolver refs) {
    out.putLong(d.uid());
    putString(out, refs.toSerializationFormat(d.control()));
    putString(out, refs.toSerializationFormat(d.data()));
    out.putLong(d.version());
    out.putInt(d.ports().size());
    for (Wire.PortEntry p : d.ports()) {
      out.putInt(p.device());
      out.put((byte) p.port());
      putGid(out, p.gid());
      out.putInt(p.mtu());
    }
  }

  static Wire.Directory decodeDirectory(ByteBuffer in, ActorRefResolver refs) {
    long uid = in.getLong();
    var control = refs.<NodeActor.Command>resolveActorRef(getString(in));
    var data = refs.<Inbound.Command>resolveActorRef(getString(in));
    long version = in.getLong();
    int n = in.getInt();
    List<Wire.PortEntry> ports = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int device = in.getInt();
      int port = in.get() & 0xff;
      Gid gid = getGid(in);
      ports.add(new Wire.PortEntry(device, port, gid, in.getInt()));
    }
    return new Wire.Directory(uid, control, data, version, ports);
  }

  static void encodeCredit(Wire.Credit c, ByteBuffer out) {
    out.putLong(c.fromUid());
    out.putLong(c.upTo());
  }

  static Wire.Credit decodeCredit(ByteBuffer in) {
    return new Wire.Credit(in.getLong(), in.getLong());
  }

  private static void putGid(ByteBuffer out, Gid g) {
    out.putLong(g.subnetPrefix());
    out.putLong(g.interfaceId());
  }

  private static Gid getGid(ByteBuffer in) {
    return new Gid(in.getLong(), in.getLong());
  }

  private static void putString(ByteBuffer out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.putInt(b.length);
    out.put(b);
  }

  private static String getString(ByteBuffer in) {
    byte[] b = new byte[in.getInt()];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
