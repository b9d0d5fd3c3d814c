package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class DevInfoCommandTest {

  @Test
  void devinfoPrintsWhatTheMidlayerReportsForEachPort(MidlayerTestKit kit) throws Exception {
    LoopbackDevice lo = kit.addDevice("di%d", 2);
    lo.linkDown(2);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DevInfoCommand.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), lo.device(), true);
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(text.startsWith("hca_id:\tdi0"), text);
    assertTrue(text.contains("phys_port_cnt:\t\t\t2"), text);
    assertTrue(text.contains("state:\t\t\tPORT_DOWN (1)"), text);
    assertTrue(text.contains("port_lid:\t\t" + lo.lid(2)), text);
    assertTrue(text.contains("GID[  0]:\t\t" + lo.gid(1)), text);
    assertTrue(text.contains("max_qp:"), text);
    kit.removeDevice(lo);
  }
}
