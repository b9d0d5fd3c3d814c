package dev.midlayer.verbs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.WcFlags;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** ib_init_ah_attr_from_wc: the path back to a UD sender, from the completion and the GRH area. */
class AhFromWcTest {
  private static WorkCompletion recv(WcStatus status, int flags, int slid) {
    return new WorkCompletion(1, null, status, WcOpcode.RECV, 40 + 8, 3, 0x42, flags, 0, 0, 0, slid, 2);
  }

  @Test
  @DisplayName("with a GRH: the GRH's source GID and traffic class, hop limit 0xFF, the receive's port")
  void fromTheGrh() {
    Gid sender = new Gid(0xfe80_0000_0000_0000L, 0x0011_2233_4455_6677L);
    ByteBuffer buffer = ByteBuffer.allocate(200).order(ByteOrder.LITTLE_ENDIAN); // the GRH is read big-endian
    int at = 100;
    buffer.put(at, (byte) (0x60 | 0x0A)).put(at + 1, (byte) 0xB0); // version 6, traffic class 0xAB
    ByteBuffer be = buffer.duplicate().order(ByteOrder.BIG_ENDIAN);
    be.putLong(at + 8, sender.subnetPrefix()).putLong(at + 16, sender.interfaceId());
    AhAttr a = AhFromWc.attr(recv(WcStatus.SUCCESS, WcFlags.GRH, 0), buffer, at);
    assertEquals(new AhAttr(2, 0, 0, true, sender, 0, 0xFF, 0xAB), a);
  }

  @Test
  @DisplayName("without a GRH: the receive's source LID on its port")
  void fromTheLid() {
    assertEquals(AhAttr.ofLid(2, 7), AhFromWc.attr(recv(WcStatus.SUCCESS, 0, 7), null, 0));
  }

  @Test
  @DisplayName("a failed completion or a GRH area outside the buffer is refused, naming the argument")
  void badInput() {
    InvalidArgumentException failed = assertThrows(InvalidArgumentException.class,
        () -> AhFromWc.attr(recv(WcStatus.WR_FLUSH_ERR, 0, 7), null, 0));
    assertEquals("wc", failed.field());
    InvalidArgumentException outside = assertThrows(InvalidArgumentException.class,
        () -> AhFromWc.attr(recv(WcStatus.SUCCESS, WcFlags.GRH, 0), ByteBuffer.allocate(64), 30));
    assertEquals("grhOffset", outside.field());
    assertTrue(outside.getMessage().contains("64 bytes"), outside.getMessage());
  }
}
