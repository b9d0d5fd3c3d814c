package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The midlayer's JFR events: a recording shows registrations, QP state changes and a CQ overflow. */
class JfrEventsTest {
  private static final String PREFIX = "dev.midlayer.";

  /** A client that makes nothing: its add and remove are registry steps to see. */
  private static final class Quiet implements Client {
    @Override
    public String name() {
      return "jfr-quiet";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {}
  }

  @Test
  @DisplayName("registerClient, registerDevice, add, a QP's RESET..RTS and ERR, a CQ overflow: each an event")
  void aRecordingShowsWhatHappened() throws Exception {
    Path file = Files.createTempFile("midlayer-jfr", ".jfr");
    List<RecordedEvent> events;
    try (Recording recording = new Recording()) {
      for (String name : List.of("QpStateChange", "CqOverflow", "SlowCallback", "Registration")) {
        recording.enable(PREFIX + name);
      }
      recording.start();
      MidlayerTestKit kit = MidlayerTestKit.create();
      try {
        ClientId client = kit.registerClient(new Quiet());
        LoopbackDevice a = kit.addDevice("jfr%d", 1);
        LoopbackDevice b = kit.addDevice("jfr%d", 1);
        overflowACq(a, b);
        kit.removeDevice(a);
        kit.removeDevice(b);
        kit.unregisterClient(client);
      } finally {
        kit.shutdown();
      }
      recording.stop();
      recording.dump(file);
      events = RecordingFile.readAllEvents(file);
    } finally {
      Files.deleteIfExists(file);
    }
    List<String> registrations = events.stream().filter(e -> is(e, "Registration"))
        .map(e -> e.getString("step") + " " + (e.getString("client") != null ? e.getString("client")
            : e.getString("device")) + " " + e.getString("outcome")).toList();
    assertTrue(registrations.contains("registerDevice jfr0 finished"), registrations::toString);
    assertTrue(registrations.stream().anyMatch(r -> r.matches("add client 'jfr-quiet' \\(#\\d+\\) added")),
        registrations::toString);
    assertTrue(registrations.stream().anyMatch(r -> r.matches("remove client 'jfr-quiet' \\(#\\d+\\) removed")),
        registrations::toString);
    assertTrue(registrations.contains("unregisterDevice jfr1 finished"), registrations::toString);
    assertTrue(registrations.stream().anyMatch(r -> r.startsWith("registerClient jfr-quiet ")), registrations::toString);

    // Each thread writes its own buffer: in the file, events are in order per thread only.
    String transitions = events.stream().filter(e -> is(e, "QpStateChange") && "jfr0".equals(e.getString("device")))
        .sorted(java.util.Comparator.comparing(RecordedEvent::getStartTime))
        .map(e -> e.getString("from") + ">" + e.getString("to")).collect(Collectors.joining(" "));
    assertTrue(transitions.startsWith("RESET>INIT INIT>RTR RTR>RTS"), transitions);
    assertTrue(transitions.contains(">ERR"), "the overflow moved the QP to ERR: " + transitions);

    List<RecordedEvent> overflows = events.stream().filter(e -> is(e, "CqOverflow")).toList();
    assertEquals(1, overflows.size(), events::toString);
    assertEquals("jfr0", overflows.get(0).getString("device"));
    assertEquals(2, overflows.get(0).getInt("capacity"));
  }

  private static boolean is(RecordedEvent e, String name) {
    return e.getEventType().getName().equals(PREFIX + name);
  }

  /** An RC QP on a CQ of 2 entries, 8 signaled sends that nobody polls: the CQ overflows, the QP goes to ERR. */
  private static void overflowACq(LoopbackDevice a, LoopbackDevice b) throws Exception {
    Device da = a.device();
    Device db = b.device();
    ProtectionDomain pa = MidlayerTestKit.await(da.allocPd());
    ProtectionDomain pb = MidlayerTestKit.await(db.allocPd());
    CompletionQueue small = MidlayerTestKit.await(da.createCq(2, null, null, null));
    CompletionQueue cqB = MidlayerTestKit.await(db.createCq(64, null, null, null));
    MemoryRegion ma = MidlayerTestKit.await(pa.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    MemoryRegion mb = MidlayerTestKit.await(pb.registerMr(ByteBuffer.allocateDirect(4096), AccessFlags.LOCAL_WRITE));
    QpCap cap = new QpCap(16, 16, 1, 1, 0);
    QueuePair qa = MidlayerTestKit.await(pa.createQp(new QpInitAttr(QpType.RC, small, small, cap, true, null, null)));
    QueuePair qb = MidlayerTestKit.await(pb.createQp(new QpInitAttr(QpType.RC, cqB, cqB, cap, true, null, null)));
    MidlayerTestKit.await(QpConnect.connect(qa, dev.midlayer.ib.AhAttr.ofLid(1, b.lid(1)), qb.qpNum(), 1, 2,
        QpConnect.Params.defaults()));
    MidlayerTestKit.await(QpConnect.connect(qb, dev.midlayer.ib.AhAttr.ofLid(1, a.lid(1)), qa.qpNum(), 2, 1,
        QpConnect.Params.defaults()));
    for (int i = 0; i < 8; i++) {
      qb.postRecv(RecvWr.of(i, Sge.of(mb, 64L * i, 64)));
      qa.postSend(SendWr.send(i, SendFlags.SIGNALED, Sge.of(ma, 0, 8)));
    }
    Await.eventually(() -> assertTrue(small.overflowed(), "a's CQ overflowed"));
    Await.eventually(() -> assertEquals(dev.midlayer.ib.QpState.ERR, qa.state()));
    MidlayerTestKit.await(qa.destroy());
    MidlayerTestKit.await(qb.destroy());
    MidlayerTestKit.await(small.destroy());
    MidlayerTestKit.await(cqB.destroy());
    MidlayerTestKit.await(ma.deregister());
    MidlayerTestKit.await(mb.deregister());
    MidlayerTestKit.await(pa.dealloc());
    MidlayerTestKit.await(pb.dealloc());
  }
}
