package dev.midlayer.drivers.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Packet;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.ib.QpType;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The serializer alone: bound to every wire message, every field through the ByteBuffer path and back. */
class ClusterSerializerTest {
  private final ClusterNodes nodes = new ClusterNodes("serializer", "");

  @AfterEach
  void stop() {
    nodes.close();
  }

  private static Packet withoutPayload(Packet h) {
    return new Packet(h.opcode(), h.srcQpn(), h.destQpn(), h.psn(), h.ackRequest(), h.solicited(), h.epoch(),
        h.aeth(), h.remoteAddr(), h.rkey(), h.dmaLength(), h.immOrKey(), h.compareAdd(), h.swap(),
        h.atomicOriginal(), h.qkey(), h.slid(), h.grh(), null);
  }

  @Test
  @DisplayName("frames, directories and credits are bound to the project serializer and keep every field")
  void everyField() throws Exception {
    ActorSystem<?> s = nodes.cluster(1).get(0);
    WireSide side = new WireSide(s, QpType.UD, 1 << 16);
    Serialization ser = SerializationExtension.get(Adapter.toClassic(s));
    ClusterEndpoint to = new ClusterEndpoint(side.fabric.peer(side.fabric.selfUid()), 7, 3,
        ClusterGids.gid(42, 7, 3), side.device, 1, 4096);
    Packet p = side.packet(Opcode.COMPARE_SWAP, 99, 0x7abcde, side.wqe(100, 5000, 4));
    Packet noGrh = Packet.acknowledge(1, 2, 3, 4, 0x65);
    Wire.Unit[] units = {new Wire.Unit(new Outgoing(to, p), Wire.FIRST, 0, 4096),
        new Wire.Unit(new Outgoing(to, p), Wire.LAST, 4096, 904),
        new Wire.Unit(new Outgoing(to, noGrh), Wire.WHOLE, 0, 0)};
    Wire.Frame f = new Wire.Frame(0x1234_5678_9abc_def0L, 77, units, 3, 64 * 1024);
    Serializer bound = ser.findSerializerFor(f);
    assertInstanceOf(ClusterSerializer.class, bound);
    ClusterSerializer cs = (ClusterSerializer) bound;
    ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
    cs.toBinary(f, buf);
    buf.flip();
    Wire.InboundFrame in = (Wire.InboundFrame) cs.fromBinary(buf, cs.manifest(f));
    assertEquals(f.senderUid(), in.senderUid());
    assertEquals(77, in.seq());
    assertEquals(3, in.units().length);
    Wire.Decoded first = in.units()[0];
    assertEquals(Wire.FIRST, first.kind());
    assertEquals(side.device.number(), first.srcDevice());
    assertEquals(1, first.srcPort());
    assertEquals(7, first.dstDevice());
    assertEquals(3, first.dstPort());
    assertEquals(5000, first.total());
    assertEquals(withoutPayload(p), first.header());
    byte[] all = WireSide.pattern(5000, 4);
    assertArrayEquals(java.util.Arrays.copyOfRange(all, 0, 4096), first.data());
    assertEquals(Wire.LAST, in.units()[1].kind());
    assertNull(in.units()[1].header());
    assertArrayEquals(java.util.Arrays.copyOfRange(all, 4096, 5000), in.units()[1].data());
    Wire.Decoded ack = in.units()[2];
    assertEquals(noGrh, ack.header());
    assertEquals(-1, ack.total());
    assertEquals(0, ack.flags() & FrameCodec.BAD_KEY);

    Wire.Directory d = new Wire.Directory(5, side.fabric.peer(side.fabric.selfUid()).control(),
        side.fabric.inbound(), 9, List.of(new Wire.PortEntry(2, 1, ClusterGids.gid(5, 2, 1), 1024)));
    assertInstanceOf(ClusterSerializer.class, ser.findSerializerFor(d));
    assertEquals(d, cs.fromBinary(cs.toBinary(d), cs.manifest(d)));
    Wire.Credit c = new Wire.Credit(-3, 123456789);
    assertEquals(c, cs.fromBinary(cs.toBinary(c), cs.manifest(c)));
  }

  @Test
  @DisplayName("a unit whose SGE key does not resolve is written with BAD_KEY and no bytes")
  void badKeyFlag() throws Exception {
    ActorSystem<?> s = nodes.cluster(1).get(0);
    WireSide side = new WireSide(s, QpType.UD, 1 << 16);
    ClusterEndpoint to = new ClusterEndpoint(side.fabric.peer(side.fabric.selfUid()), 0, 1,
        side.device.gid(1), side.device, 1, 4096);
    Payload.Wqe w = new Payload.Wqe(StubQp.Wr.gather(dev.midlayer.ib.WrOpcode.SEND, side.mr.iova(), 100,
        side.mr.lkey() ^ 0x100), side.qp); // a key that names no region
    Packet p = side.packet(Opcode.SEND_ONLY, 1, 1, w);
    Wire.Frame f = new Wire.Frame(1, 1, new Wire.Unit[] {new Wire.Unit(new Outgoing(to, p), Wire.WHOLE, 0, 100)},
        1, 1024);
    ByteBuffer buf = ByteBuffer.allocate(1024);
    FrameCodec.encode(f, buf);
    Wire.Decoded u = FrameCodec.decodeFrame(buf.flip()).units()[0];
    assertEquals(FrameCodec.BAD_KEY, u.flags() & FrameCodec.BAD_KEY);
    assertEquals(0, u.data().length);
    Packet got = FrameCodec.complete(u.header(), u.total(), u.data(), true);
    assertEquals(true, PacketSink.requesterKeyInvalid(got));
  }
}
