package dev.midlayer.ulp.portmonitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.PortState;
import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(MidlayerExtension.class)
class PortMonitorTest {

  @Test
  void tracksPortStatesAndCleansUpInRemove(MidlayerTestKit kit) throws Exception {
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    PortMonitor monitor = new PortMonitor("pm", lines::add);
    LoopbackDevice lo = kit.addDevice("pm%d", 1);
    ClientId id = kit.registerClient(monitor);
    assertEquals("pm: add pm0 (1 port(s), port 1 ACTIVE)", lines.poll(10, TimeUnit.SECONDS));
    lo.linkDown(1);
    assertEquals("pm: PORT_ERR on pm0 port 1: ACTIVE -> DOWN", lines.poll(10, TimeUnit.SECONDS));
    assertEquals(PortState.DOWN, monitor.portState(lo.device(), 1));
    kit.unregisterClient(id);
    assertEquals("pm: remove pm0", lines.poll(10, TimeUnit.SECONDS));
    assertNull(monitor.portState(lo.device(), 1));
    assertNull(lo.device().getClientData(id));
    // The handler was unregistered in remove: a later event reaches nobody.
    lo.linkUp(1);
    kit.removeDevice(lo);
    assertNull(lines.poll(100, TimeUnit.MILLISECONDS));
  }
}
