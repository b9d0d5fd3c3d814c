package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class HotplugCommandTest {

  @Test
  void theDemoPrintsTheLifecycleInTheMidlayersOrder(MidlayerTestKit kit) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    new HotplugCommand().run(kit.testKit().system(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    List<String> callbacks = bytes.toString(StandardCharsets.UTF_8).lines()
        .filter(l -> l.startsWith("   "))
        .map(String::trim)
        .collect(Collectors.toList());
    assertEquals(List.of(
        "portmon: add lo0 (2 port(s), port 1 ACTIVE, port 2 ACTIVE)",
        "inventory: add lo0 (2 port(s)), 1 device(s) in inventory",
        "portmon: add lo1 (1 port(s), port 1 ACTIVE)",
        "inventory: add lo1 (1 port(s)), 2 device(s) in inventory",
        "portmon: PORT_ERR on lo0 port 2: ACTIVE -> DOWN",
        "portmon: PORT_ACTIVE on lo0 port 2: DOWN -> ACTIVE",
        "inventory: remove lo0, 1 device(s) in inventory",
        "portmon: remove lo0",
        "lo0 is now UNREGISTERED; devices listed: [lo1]",
        "portmon: remove lo1",
        "inventory: remove lo1, 0 device(s) in inventory"), callbacks);
  }
}
