package dev.midlayer.testkit;

import com.typesafe.config.ConfigFactory;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEventHandler;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MDC of the midlayer's log lines: the client and the device, on the client's own lines too; the device, port
 * and QP on the CM's.
 */
class LogMdcTest {
  private static final long SID = 0x1000_0000_0000_0077L;

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

  @Test
  @DisplayName("the CM's lines carry the MDC of what they are about: a throwing handler of a connection's event names "
      + "its device, port and QP; of a listener's, its device and port")
  void cmLinesCarryTheDevicePortAndQp() throws Exception {
    MidlayerTestKit kit = MidlayerTestKit.create(ConfigFactory.parseString("midlayer.cm.resolve-timeout = 200ms"));
    try {
      LoopbackDevice a = kit.addDevice("cmmdc%d", 1);
      LoopbackDevice b = kit.addDevice("cmmdc%d", 1);
      ConnectionManager cm = kit.midlayer().connectionManager();
      CmEventHandler throwing = e -> {
        throw new IllegalStateException("a consumer bug (thrown on purpose by the test)");
      };
      ProtectionDomain pd = MidlayerTestKit.await(a.device().allocPd());
      CompletionQueue cq = MidlayerTestKit.await(a.device().createCq(16, null, null, null));
      QueuePair qp = MidlayerTestKit.await(pd.createQp(QpInitAttr.of(QpType.RC, cq, new QpCap(4, 4, 1, 1, 0))));
      CmListener listener = null;
      try {
        // A connect nobody serves: its UNREACHABLE goes to the connection's throwing handler.
        CmDestination nowhere = CmDestination.gid(Gid.linkLocal(0xdead_beefL));
        LoggingTestKit.error("threw on Unreachable")
            .withMdc(Map.of("midlayer.device", a.name(), "midlayer.port", "1", "midlayer.qp",
                String.valueOf(qp.qpNum())))
            .expect(kit.testKit().system(), () -> cm.connect(a.device(), 1, nowhere, SID, qp, null,
                ConnectOptions.defaults().withEvents(CmEventSink.of(throwing))));
        // A REQ for a listener whose handler throws: its CONNECT_REQUEST's line names the listener's device, port.
        listener = MidlayerTestKit.await(cm.listen(b.device(), 1, SID, throwing));
        CompletableFuture<?> rejected = new CompletableFuture<>();
        LoggingTestKit.error("threw on ConnectRequest")
            .withMdc(Map.of("midlayer.device", b.name(), "midlayer.port", "1"))
            .expect(kit.testKit().system(), () -> cm.connect(a.device(), 1, CmDestination.gid(b.gid(1)), SID, qp,
                null).whenComplete((c, e) -> rejected.complete(null)));
        MidlayerTestKit.await(rejected);
      } finally {
        // Cleaned up whatever failed, so that a failure above is the one reported.
        if (listener != null) {
          MidlayerTestKit.await(listener.stop());
        }
        MidlayerTestKit.await(qp.destroy());
        MidlayerTestKit.await(cq.destroy());
        MidlayerTestKit.await(pd.dealloc());
      }
      kit.removeDevice(a);
      kit.removeDevice(b);
    } finally {
      kit.shutdown();
    }
  }
}
