package dev.midlayer.testkit;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The MDC of the midlayer's log lines: the client and the device, on the client's own lines too. */
class LogMdcTest {
  /** Logs one line in add: what an application's client does. */
  private static final class Chatty implements Client {
    private static final Logger log = LoggerFactory.getLogger(Chatty.class);

    @Override
    public String name() {
      return "chatty";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      log.warn("chatty adds {}", device.name());
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {}
  }

  @Test
  @DisplayName("a client's log line in add carries midlayer.client and midlayer.device")
  void clientLinesCarryTheClientAndTheDevice() {
    MidlayerTestKit kit = MidlayerTestKit.create();
    try {
      ClientId id = kit.registerClient(new Chatty());
      LoopbackDevice lo = LoggingTestKit.warn("chatty adds mdc0")
          .withMdc(Map.of("midlayer.client", id.toString(), "midlayer.device", "mdc0"))
          .expect(kit.testKit().system(), () -> kit.addDevice("mdc%d", 1));
      kit.removeDevice(lo);
      kit.unregisterClient(id);
    } finally {
      kit.shutdown();
    }
  }
}
