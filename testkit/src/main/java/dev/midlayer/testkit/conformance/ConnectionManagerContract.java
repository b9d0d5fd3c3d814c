package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.assertBytes;
import static dev.midlayer.testkit.conformance.ConformanceFixture.assertOk;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitState;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.failureOf;
import static dev.midlayer.testkit.conformance.ConformanceFixture.fill;
import static dev.midlayer.testkit.conformance.ConformanceFixture.poll;
import static dev.midlayer.testkit.conformance.ConformanceFixture.pollOne;
import static dev.midlayer.testkit.conformance.ConformanceFixture.read;
import static dev.midlayer.testkit.conformance.ConformanceFixture.wrIds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventHandler;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cm.ConnectionRejectedException;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.cm.RejectReason;
import dev.midlayer.cm.UdRemote;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.Gid;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcOpcode;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.registry.NameTakenException;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The connection manager ({@link ConnectionManager}) on the driver under test: the REQ/REP/RTU exchange moves
 * both QPs to RTS and traffic flows; receives posted before establishment are consumed; REJ with each reason;
 * the private-data limits; DREQ/DREP flushing both sides; SIDR; addressing by node and device; device removal;
 * a throwing handler. Every wait is on a real event (a CM event, a completion, a stage).
 *
 * <p>IB spec: IBTA vol. 1, ch. 12 (communication management: §12.6 messages and their private data, §12.9 the
 * state machine, §12.11 SIDR); Linux {@code drivers/infiniband/core/cm.c} and {@code cma.c}.
 */
public abstract class ConnectionManagerContract extends DriverContract {
  private static final long SID = 0x1000_0000_0000_0042L;
  private static final int QKEY = 0x1111_2222;
  private static final QpCap CAP = new QpCap(16, 16, 2, 2, 0);

  @Override
  protected Config contractConfig() {
    // Retries and timewait short enough that a test sees them end; connect-timeout roomy for a loaded machine.
    return ConfigFactory.parseString("midlayer.cm { retry-interval = 50ms, connect-timeout = 5s, "
        + "disconnect-timeout = 2s, timewait = 50ms, resolve-timeout = 2s }");
  }

  /** Records every event; answers connect requests with {@link #onRequest} if set. Runs on the CM's callback. */
  static final class Recorder implements CmEventHandler {
    final ConcurrentLinkedQueue<CmEvent> events = new ConcurrentLinkedQueue<>();
    volatile Consumer<CmEvent.ConnectRequest> onRequest;
    volatile Consumer<CmEvent.SidrRequest> onSidr;

    @Override
    public void onEvent(CmEvent event) {
      events.add(event);
      if (event instanceof CmEvent.ConnectRequest r && onRequest != null) {
        onRequest.accept(r);
      } else if (event instanceof CmEvent.SidrRequest s && onSidr != null) {
        onSidr.accept(s);
      }
    }

    <T extends CmEvent> List<T> all(Class<T> type) {
      return events.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** The first event of {@code type}, waiting for it. Test thread. */
    <T extends CmEvent> T await(Class<T> type) {
      return awaitCount(type, 1).get(0);
    }

    <T extends CmEvent> List<T> awaitCount(Class<T> type, int n) {
      awaitTrue(() -> n + " " + type.getSimpleName() + " event(s); got " + events, () -> all(type).size() >= n);
      return all(type);
    }

    CmEventSink sink() {
      return CmEventSink.of(this);
    }
  }

  /** The connection manager of the midlayer {@code d} is registered with (on a cluster: that node's). */
  private ConnectionManager cm(Device d) {
    return driver().midlayerOf(kit(), d).connectionManager();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private ConformanceFixture.Side rcSide() throws Exception {
    ConformanceFixture.Side s = f.side(64, 16 * 1024, null);
    ConformanceFixture.createQp(s, QpType.RC, CAP, true);
    return s;
  }

  private CmListener listen(ConformanceFixture.Side s, Recorder r) throws Exception {
    return await(cm(s.dev).listen(s.dev, 1, SID, r));
  }

  /** Listens on {@code b} accepting with {@code b.qp}, connects {@code a.qp}; returns both sides' connections. */
  private CmConnection[] connected(ConformanceFixture.Side a, ConformanceFixture.Side b, Recorder client,
      Recorder server, ConnectOptions options) throws Exception {
    server.onRequest = r -> r.accept(b.qp, bytes("rep"));
    listen(b, server);
    CmConnection active = await(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp, bytes("req"),
        options.withEvents(client.sink())));
    CmConnection passive = server.await(CmEvent.Established.class).connection();
    return new CmConnection[] {active, passive};
  }

  @Test
  @DisplayName("connect + accept: REQ/REP/RTU bring both QPs to RTS with each other's QPN; SEND both ways and an "
      + "RDMA WRITE work; ESTABLISHED on both sides, private data and proposed parameters delivered")
  void connectAcceptThenTraffic() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder client = new Recorder();
    Recorder server = new Recorder();
    CmConnection[] c = connected(a, b, client, server, ConnectOptions.defaults());
    CmConnection active = c[0];
    CmConnection passive = c[1];

    assertTrue(active.active());
    assertFalse(passive.active());
    assertEquals(b.qp.qpNum(), active.remoteQpn());
    assertEquals(a.qp.qpNum(), passive.remoteQpn());
    assertEquals(b.gid(1), active.remoteGid());
    assertEquals(a.gid(1), passive.remoteGid());
    assertArrayEquals(bytes("rep"), active.remotePrivateData());
    assertArrayEquals(bytes("req"), passive.remotePrivateData());
    assertSame(a.qp, active.qp());
    assertSame(b.qp, passive.qp());
    assertEquals(QpState.RTS, a.qp.state());
    assertEquals(QpState.RTS, b.qp.state());
    CmEvent.ConnectRequest req = server.await(CmEvent.ConnectRequest.class);
    assertArrayEquals(bytes("req"), req.privateData());
    assertEquals(a.gid(1), req.remoteGid());
    assertEquals(a.qp.qpNum(), req.remoteQpn());
    assertEquals(active.params().startPsn(), req.proposed().startPsn(), "the REQ's start PSN is the active side's");
    assertEquals(active.params().startPsn(), b.qp.query().rqPsn(), "the passive side receives from that PSN");
    assertEquals(passive.params().startPsn(), a.qp.query().rqPsn(), "and the active side from the REP's");
    assertSame(active, client.await(CmEvent.Established.class).connection());

    fill(a.mr, 0, 256, 1);
    fill(b.mr, 0, 256, 2);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 4096, 256)));
    a.qp.postRecv(RecvWr.of(2, Sge.of(a.mr, 4096, 256)));
    a.qp.postSend(SendWr.send(10, 0, Sge.of(a.mr, 0, 100)));
    b.qp.postSend(SendWr.send(20, 0, Sge.of(b.mr, 0, 50)));
    List<WorkCompletion> aw = poll(a.cq, 2);
    List<WorkCompletion> bw = poll(b.cq, 2);
    aw.forEach(ConformanceFixture::assertOk);
    bw.forEach(ConformanceFixture::assertOk);
    assertBytes(read(a.mr, 0, 100), b.mr, 4096, "a's SEND at b");
    assertBytes(read(b.mr, 0, 50), a.mr, 4096, "b's SEND at a");

    MemoryRegion target = await(b.pd.registerMr(ByteBuffer.allocateDirect(4096),
        AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_WRITE));
    fill(a.mr, 1000, 300, 3);
    a.qp.postSend(SendWr.builder(WrOpcode.RDMA_WRITE).wrId(11).sge(Sge.of(a.mr, 1000, 300))
        .remote(target.iova() + 100, target.rkey()).build());
    WorkCompletion w = pollOne(a.cq);
    assertOk(w);
    assertEquals(WcOpcode.RDMA_WRITE, w.opcode());
    assertBytes(read(a.mr, 1000, 300), target, 100, "RDMA WRITE through the CM's connection");
  }

  @Test
  @DisplayName("receives posted in INIT, before connect and accept, are consumed by the first sends (RNR retry 0 "
      + "both ways: a missing receive would fail the send)")
  void receivesPostedBeforeEstablishmentAreConsumed() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    await(cm(a.dev).initQp(a.qp, 1));
    await(cm(b.dev).initQp(b.qp, 1));
    assertEquals(QpState.INIT, a.qp.state());
    a.qp.postRecv(RecvWr.of(1, Sge.of(a.mr, 0, 64)));
    b.qp.postRecv(RecvWr.of(2, Sge.of(b.mr, 0, 64)));
    Recorder client = new Recorder();
    Recorder server = new Recorder();
    server.onRequest = r -> {
      r.accept(b.qp, null);
      // Sent as soon as the passive side is established: the active side's receive was posted before connect.
      server.onRequest = null;
    };
    listen(b, server);
    CmConnection active = await(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp, null,
        ConnectOptions.defaults().withRetries(0, 7, 14).withEvents(client.sink())));
    assertEquals(0, active.params().rnrRetryCount());
    a.qp.postSend(SendWr.send(10, 0, Sge.of(a.mr, 1000, 8))); // at once: b's receive was there before the REP
    server.await(CmEvent.Established.class);
    b.qp.postSend(SendWr.send(20, 0, Sge.of(b.mr, 1000, 8)));
    List<WorkCompletion> aw = poll(a.cq, 2);
    List<WorkCompletion> bw = poll(b.cq, 2);
    aw.forEach(ConformanceFixture::assertOk);
    bw.forEach(ConformanceFixture::assertOk);
    assertTrue(wrIds(aw).containsAll(List.of(1L, 10L)), () -> "a's completions " + aw);
    assertTrue(wrIds(bw).containsAll(List.of(2L, 20L)), () -> "b's completions " + bw);
  }

  @Test
  @DisplayName("a consumer's reject: REJ with CONSUMER_REJECT and its private data; the active QP is moved to ERR")
  void rejectByConsumer() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder server = new Recorder();
    server.onRequest = r -> r.reject(bytes("go away"));
    listen(b, server);
    Recorder client = new Recorder();
    Throwable t = failureOf(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp, null,
        ConnectOptions.defaults().withEvents(client.sink())));
    ConnectionRejectedException e = assertInstanceOf(ConnectionRejectedException.class, t);
    assertEquals(RejectReason.CONSUMER_REJECT, e.reason());
    assertArrayEquals(bytes("go away"), e.privateData());
    CmEvent.Rejected ev = client.await(CmEvent.Rejected.class);
    assertEquals(RejectReason.CONSUMER_REJECT, ev.reason());
    assertArrayEquals(bytes("go away"), ev.privateData());
    awaitState(a.qp, QpState.ERR);
    assertEquals(QpState.RESET, b.qp.state(), "the rejecting side's QP was never touched");
  }

  @Test
  @DisplayName("no listener for the service ID: REJ with NO_LISTENER; a second listen on a taken ID fails")
  void noListener() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder server = new Recorder();
    listen(b, server);
    Throwable dup = failureOf(cm(b.dev).listen(b.dev, 1, SID, new Recorder()));
    assertInstanceOf(NameTakenException.class, dup);
    Recorder client = new Recorder();
    Throwable t = failureOf(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID + 1, a.qp, null,
        ConnectOptions.defaults().withEvents(client.sink())));
    assertEquals(RejectReason.NO_LISTENER, assertInstanceOf(ConnectionRejectedException.class, t).reason());
    assertEquals(RejectReason.NO_LISTENER, client.await(CmEvent.Rejected.class).reason());
    assertTrue(server.events.isEmpty(), () -> "the listener of another ID saw " + server.events);
  }

  @Test
  @DisplayName("an unknown GID, node or device is UNREACHABLE: the stage fails, the sink gets UNREACHABLE, nothing "
      + "was done to the QP")
  void unreachable() throws Exception {
    ConformanceFixture.Side a = rcSide();
    Recorder client = new Recorder();
    CmDestination nowhere = CmDestination.gid(Gid.linkLocal(0xdead_beefL));
    Throwable t = failureOf(cm(a.dev).connect(a.dev, 1, nowhere, SID, a.qp, null,
        ConnectOptions.defaults().withEvents(client.sink())));
    assertEquals(RejectReason.UNREACHABLE, assertInstanceOf(ConnectionRejectedException.class, t).reason());
    assertEquals(nowhere, client.await(CmEvent.Unreachable.class).destination());
    assertEquals(QpState.RESET, a.qp.state());
    CmDestination noDevice = CmDestination.node(kit().testKit().system().address(), "no-such-device", 1);
    Throwable t2 = failureOf(cm(a.dev).connect(a.dev, 1, noDevice, SID, a.qp, null));
    assertEquals(RejectReason.UNREACHABLE, assertInstanceOf(ConnectionRejectedException.class, t2).reason());
    Throwable t3 = failureOf(cm(a.dev).resolveUd(a.dev, 1, nowhere, SID, null));
    assertEquals(RejectReason.UNREACHABLE, assertInstanceOf(ConnectionRejectedException.class, t3).reason());
  }

  @Test
  @DisplayName("a listener whose handler never answers: the REQ times out (TIMEOUT on both sides, active QP in ERR), "
      + "and a late accept fails")
  void requestTimesOut() throws Exception {
    restart(ConfigFactory.parseString("midlayer.cm { connect-timeout = 300ms, retry-interval = 50ms }"));
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder server = new Recorder();
    listen(b, server);
    Recorder client = new Recorder();
    Throwable t = failureOf(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp, null,
        ConnectOptions.defaults().withEvents(client.sink())));
    assertEquals(RejectReason.TIMEOUT, assertInstanceOf(ConnectionRejectedException.class, t).reason());
    assertEquals(RejectReason.TIMEOUT, client.await(CmEvent.Rejected.class).reason());
    awaitState(a.qp, QpState.ERR);
    assertEquals(1, server.all(CmEvent.ConnectRequest.class).size(), "resent REQs are not delivered again");
    assertEquals(RejectReason.TIMEOUT, server.await(CmEvent.Rejected.class).reason());
    Throwable late = failureOf(server.await(CmEvent.ConnectRequest.class).accept(b.qp, null));
    assertEquals(RejectReason.TIMEOUT, assertInstanceOf(ConnectionRejectedException.class, late).reason());
    assertEquals(QpState.RESET, b.qp.state());
  }

  @Test
  @DisplayName("private data over IB CM's limit is refused at once, naming field and limit, for REQ, REP, REJ, RTU, "
      + "DREQ, SIDR_REQ and SIDR_REP; exactly the limit passes")
  void oversizedPrivateDataIsRefusedAtOnce() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    InvalidArgumentException req = assertThrows(InvalidArgumentException.class, () -> cm(a.dev).connect(a.dev, 1,
        CmDestination.gid(b.gid(1)), SID, a.qp, new byte[PrivateDataLimits.REQ + 1]));
    assertEquals("privateData", req.field());
    assertTrue(req.getMessage().contains("REQ") && req.getMessage().contains("92"), req.getMessage());
    InvalidArgumentException rtu = assertThrows(InvalidArgumentException.class,
        () -> ConnectOptions.defaults().withRtuPrivateData(new byte[PrivateDataLimits.RTU + 1]));
    assertEquals("rtuPrivateData", rtu.field());
    assertTrue(rtu.getMessage().contains("224"), rtu.getMessage());
    InvalidArgumentException sidrReq = assertThrows(InvalidArgumentException.class,
        () -> cm(a.dev).resolveUd(a.dev, 1, CmDestination.gid(b.gid(1)), SID, new byte[PrivateDataLimits.SIDR_REQ + 1]));
    assertTrue(sidrReq.getMessage().contains("216"), sidrReq.getMessage());

    ConcurrentLinkedQueue<String> refused = new ConcurrentLinkedQueue<>();
    Recorder server = new Recorder();
    server.onRequest = r -> {
      try {
        r.accept(b.qp, new byte[PrivateDataLimits.REP + 1]);
      } catch (InvalidArgumentException e) {
        refused.add("REP " + e.field() + " " + e.getMessage());
      }
      try {
        r.reject(new byte[PrivateDataLimits.REJ + 1]);
      } catch (InvalidArgumentException e) {
        refused.add("REJ " + e.field() + " " + e.getMessage());
      }
      r.accept(b.qp, new byte[PrivateDataLimits.REP]); // the refusals answered nothing
    };
    listen(b, server);
    CmConnection c = await(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp,
        new byte[PrivateDataLimits.REQ], ConnectOptions.defaults().withRtuPrivateData(new byte[PrivateDataLimits.RTU])));
    assertEquals(PrivateDataLimits.REP, c.remotePrivateData().length);
    List<String> r = List.copyOf(refused);
    assertEquals(2, r.size(), () -> "refusals: " + r);
    assertTrue(r.get(0).startsWith("REP privateData") && r.get(0).contains("196"), r.get(0));
    assertTrue(r.get(1).startsWith("REJ privateData") && r.get(1).contains("148"), r.get(1));
    InvalidArgumentException dreq = assertThrows(InvalidArgumentException.class,
        () -> c.disconnect(new byte[PrivateDataLimits.DREQ + 1]));
    assertTrue(dreq.getMessage().contains("DREQ") && dreq.getMessage().contains("220"), dreq.getMessage());

    ConformanceFixture.Side u = f.side(b.dev, 16, 4096, null);
    ConformanceFixture.createQp(u, QpType.UD, CAP, true);
    await(QpConnect.ud(u.qp, 1, QKEY, 0));
    ConcurrentLinkedQueue<String> sidrRefused = new ConcurrentLinkedQueue<>();
    Recorder udServer = new Recorder();
    udServer.onSidr = s -> {
      try {
        s.request().accept(u.qp, new byte[PrivateDataLimits.SIDR_REP + 1]);
      } catch (InvalidArgumentException e) {
        sidrRefused.add(e.getMessage());
      }
      s.request().accept(u.qp, null);
    };
    await(cm(b.dev).listen(b.dev, 1, SID + 7, udServer));
    UdRemote remote = await(cm(a.dev).resolveUd(a.dev, 1, CmDestination.gid(b.gid(1)), SID + 7,
        new byte[PrivateDataLimits.SIDR_REQ]));
    assertEquals(u.qp.qpNum(), remote.qpn());
    assertEquals(1, sidrRefused.size());
    assertTrue(sidrRefused.peek().contains("136"), sidrRefused.peek());
  }

  @Test
  @DisplayName("disconnect (from either side): DREQ/DREP move both QPs to ERR, outstanding receives and sends flush "
      + "with WR_FLUSH_ERR on both sides, both see DISCONNECTED, then TIMEWAIT_EXIT")
  void disconnectFlushesBothSides() throws Exception {
    // Connection 1: receives outstanding on both sides; the active side disconnects.
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder client = new Recorder();
    Recorder server = new Recorder();
    CmConnection[] c = connected(a, b, client, server, ConnectOptions.defaults());
    a.qp.postRecv(List.of(RecvWr.of(1, Sge.of(a.mr, 0, 64)), RecvWr.of(2, Sge.of(a.mr, 64, 64))));
    b.qp.postRecv(List.of(RecvWr.of(3, Sge.of(b.mr, 0, 64)), RecvWr.of(4, Sge.of(b.mr, 64, 64))));
    await(c[0].disconnect(bytes("bye")));
    assertFlushed(a, 1, 2);
    assertFlushed(b, 3, 4);
    client.await(CmEvent.Disconnected.class);
    assertArrayEquals(bytes("bye"), server.await(CmEvent.Disconnected.class).privateData());
    client.await(CmEvent.TimewaitExit.class);
    server.await(CmEvent.TimewaitExit.class);

    // Connection 2: sends outstanding on both sides (no receives: RNR retried forever); the passive side disconnects.
    ConformanceFixture.Side x = rcSide();
    ConformanceFixture.Side y = rcSide();
    Recorder client2 = new Recorder();
    Recorder server2 = new Recorder();
    await(cm(y.dev).initQp(y.qp, 1));
    y.qp.postRecv(RecvWr.of(99, Sge.of(y.mr, 0, 64)));
    server2.onRequest = r -> r.accept(y.qp, null);
    await(cm(y.dev).listen(y.dev, 1, SID + 1, server2));
    CmConnection x2 = await(cm(x.dev).connect(x.dev, 1, CmDestination.gid(y.gid(1)), SID + 1, x.qp, null,
        ConnectOptions.defaults().withEvents(client2.sink())));
    CmConnection y2 = server2.await(CmEvent.Established.class).connection();
    // y's one receive takes x's first send; the second one keeps x retrying RNR, as does y's send.
    x.qp.postSend(List.of(SendWr.send(10, 0, Sge.of(x.mr, 0, 8)), SendWr.send(11, 0, Sge.of(x.mr, 0, 8))));
    assertEquals(99, pollOne(y.cq).wrId());
    y.qp.postSend(SendWr.send(20, 0, Sge.of(y.mr, 0, 8)));
    assertOk(pollOne(x.cq));
    await(y2.disconnect());
    assertFlushed(x, 11);
    assertFlushed(y, 20);
    client2.await(CmEvent.Disconnected.class);
    server2.await(CmEvent.Disconnected.class);
    assertEquals(QpState.ERR, x2.qp().state());
  }

  private static void assertFlushed(ConformanceFixture.Side s, long... ids) {
    List<WorkCompletion> wcs = poll(s.cq, ids.length);
    for (int i = 0; i < ids.length; i++) {
      assertEquals(ids[i], wcs.get(i).wrId(), () -> "flushes of " + s.qp + ": " + wcs);
      assertEquals(WcStatus.WR_FLUSH_ERR, wcs.get(i).status(), () -> "flushes of " + s.qp + ": " + wcs);
    }
    awaitState(s.qp, QpState.ERR);
  }

  @Test
  @DisplayName("SIDR: resolveUd returns the listener's UD QPN and Q_Key, and a UD SEND to them arrives; no listener "
      + "is NO_LISTENER")
  void sidrResolveThenUdSend() throws Exception {
    ConformanceFixture.Side a = f.side(64, 16 * 1024, null);
    ConformanceFixture.Side b = f.side(64, 16 * 1024, null);
    ConformanceFixture.createQp(a, QpType.UD, CAP, true);
    ConformanceFixture.createQp(b, QpType.UD, CAP, true);
    await(QpConnect.ud(a.qp, 1, 0x5555, 0));
    await(QpConnect.ud(b.qp, 1, QKEY, 0));
    Recorder server = new Recorder();
    server.onSidr = s -> s.request().accept(b.qp, bytes("ud here"));
    listen(b, server);
    UdRemote remote = await(cm(a.dev).resolveUd(a.dev, 1, CmDestination.gid(b.gid(1)), SID, bytes("who")));
    assertEquals(b.qp.qpNum(), remote.qpn());
    assertEquals(QKEY, remote.qkey());
    assertEquals(b.gid(1), remote.remoteGid());
    assertArrayEquals(bytes("ud here"), remote.privateData());
    assertArrayEquals(bytes("who"), server.await(CmEvent.SidrRequest.class).privateData());

    AddressHandle ah = a.pd.createAh(remote.ahAttr());
    fill(a.mr, 0, 100, 5);
    b.qp.postRecv(RecvWr.of(1, Sge.of(b.mr, 0, 40 + 100)));
    a.qp.postSend(SendWr.udSend(2, 0, ah, remote.qpn(), remote.qkey(), Sge.of(a.mr, 0, 100)));
    assertOk(pollOne(a.cq));
    WorkCompletion r = pollOne(b.cq);
    assertOk(r);
    assertEquals(a.qp.qpNum(), r.srcQp());
    assertBytes(read(a.mr, 0, 100), b.mr, 40, "UD payload to the resolved QP");

    Throwable t = failureOf(cm(a.dev).resolveUd(a.dev, 1, CmDestination.gid(b.gid(1)), SID + 9, null));
    assertEquals(RejectReason.NO_LISTENER, assertInstanceOf(ConnectionRejectedException.class, t).reason());
  }

  @Test
  @DisplayName("connect by node address and device name: resolved to that device's port GID")
  void connectByNodeAndDevice() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder server = new Recorder();
    server.onRequest = r -> r.accept(b.qp, null);
    listen(b, server);
    CmDestination dest = CmDestination.node(driver().midlayerOf(kit(), b.dev).system().address(), b.dev.name(), 1);
    CmConnection c = await(cm(a.dev).connect(a.dev, 1, dest, SID, a.qp, null));
    assertEquals(b.gid(1), c.remoteGid());
    assertEquals(b.qp.qpNum(), c.remoteQpn());
    assertEquals(QpState.RTS, a.qp.state());
  }

  @Test
  @DisplayName("device removal while connected: DEVICE_REMOVAL for the connection and the listener on that device, "
      + "before its unregistration completes; the peer is DISCONNECTED with its QP in ERR")
  void deviceRemovalWhileConnected() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    Recorder client = new Recorder();
    Recorder server = new Recorder();
    connected(a, b, client, server, ConnectOptions.defaults());
    String name = b.dev.name();
    f.removeDevice(b.dev);
    List<CmEvent.DeviceRemoval> removals = server.awaitCount(CmEvent.DeviceRemoval.class, 2);
    assertTrue(removals.stream().allMatch(r -> r.deviceName().equals(name)), () -> "" + removals);
    assertTrue(removals.stream().anyMatch(r -> r.listener() != null && r.connection() == null), () -> "" + removals);
    assertTrue(removals.stream().anyMatch(r -> r.connection() != null && r.listener() == null), () -> "" + removals);
    client.await(CmEvent.Disconnected.class);
    awaitState(a.qp, QpState.ERR);
    assertTrue(client.all(CmEvent.DeviceRemoval.class).isEmpty(), "the peer's device is still there");
  }

  @Test
  @DisplayName("a connect-request handler that throws: that REQ is rejected (CONSUMER_REJECT), the CM goes on and the "
      + "next connect is accepted")
  void throwingHandlerDoesNotBreakTheCm() throws Exception {
    ConformanceFixture.Side a = rcSide();
    ConformanceFixture.Side b = rcSide();
    AtomicInteger calls = new AtomicInteger();
    Recorder server = new Recorder();
    server.onRequest = r -> {
      if (calls.incrementAndGet() == 1) {
        throw new IllegalStateException("a consumer bug (thrown on purpose by the test)");
      }
      r.accept(b.qp, null);
    };
    listen(b, server);
    Throwable t = failureOf(cm(a.dev).connect(a.dev, 1, CmDestination.gid(b.gid(1)), SID, a.qp, null));
    assertEquals(RejectReason.CONSUMER_REJECT, assertInstanceOf(ConnectionRejectedException.class, t).reason());
    ConformanceFixture.Side a2 = rcSide();
    CmConnection c = await(cm(a2.dev).connect(a2.dev, 1, CmDestination.gid(b.gid(1)), SID, a2.qp, null));
    assertEquals(b.qp.qpNum(), c.remoteQpn());
    assertEquals(2, calls.get());
    assertNull(server.all(CmEvent.Rejected.class).stream().findFirst().orElse(null));
  }
}
