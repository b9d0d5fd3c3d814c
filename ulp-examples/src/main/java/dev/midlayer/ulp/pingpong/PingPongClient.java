package dev.midlayer.ulp.pingpong;

import static dev.midlayer.ulp.pingpong.PingPongEndpoint.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pingpong client, a registered client: on every device it is added to (and its filter accepts), it connects
 * to a {@link PingPongServer} through the connection manager and runs one session of round trips
 * ({@link PingPongOptions}); each session's {@link PingPongResult} goes to the result consumer when the session
 * ends: all iterations done or the time limit reached, the server gone, a failure, or the device removed.
 *
 * <p>{@link #add} may sleep: it makes the endpoint, moves the QP to INIT, and connects (the REQ's private data
 * is the message size, so the server can size its buffers). The first ping goes out from {@code add}; every
 * later one from the completion callback of the round trip before. {@link #remove} stops the session,
 * disconnects, drains the QP so that every WR it posted has completed, and destroys everything before it
 * returns. A device that comes back gets a new session.
 *
 * <p>Threading: {@code add} and {@code remove} run one at a time; the data path runs in completion callbacks.
 */
public final class PingPongClient implements Client {
  private static final Logger log = LoggerFactory.getLogger(PingPongClient.class);

  private final String name;
  private final Function<Device, Optional<CmDestination>> server;
  private final long serviceId;
  private final PingPongOptions options;
  private final Consumer<PingPongResult> results;
  private final ConnectionManager cm;
  private final LongAdder roundTrips = new LongAdder();

  /** What the client keeps per device, as client data. */
  private record PerDevice(PingPongEndpoint ep, PingSession session, CmConnection connection) {}

  /**
   * A client named {@code name} on {@code midlayer}.
   *
   * @param server for each device added, where its server is (a GID, or a node and device name), or empty to
   *     leave the device alone; called in {@code add}, may sleep
   * @param serviceId the server's service ID
   * @param options what each session does
   * @param results gets each session's result once it has ended; called from a completion callback or from
   *     {@code remove}, so it must not block
   */
  public PingPongClient(Midlayer midlayer, String name, Function<Device, Optional<CmDestination>> server,
      long serviceId, PingPongOptions options, Consumer<PingPongResult> results) {
    this.name = name;
    this.server = server;
    this.serviceId = serviceId;
    this.options = options;
    this.results = results;
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** Round trips completed so far, in every session. Never blocks; any thread. */
  public long roundTrips() {
    return roundTrips.sum();
  }

  /**
   * Connects to the device's server and sends the first ping. <b>May sleep</b> (the midlayer's client
   * dispatcher). A device whose server cannot be reached is left alone (logged, false).
   */
  @Override
  public boolean add(Device device, ClientId self) {
    Optional<CmDestination> destination = server.apply(device);
    if (destination.isEmpty()) {
      return false;
    }
    PingPongEndpoint ep = PingPongEndpoint.open(device, 2 * options.size(), 1, 1, options.busyPoll());
    PingSession session = new PingSession(ep, options, roundTrips);
    try {
      await(cm.initQp(ep.qp, 1), "initQp of QP " + ep.qp.qpNum() + " on " + device.name());
      byte[] size = ByteBuffer.allocate(4).putInt(options.size()).array();
      CmConnection c = await(cm.connect(device, 1, destination.get(), serviceId, ep.qp, size,
          ConnectOptions.defaults().withEvents(CmEventSink.of(e -> {
            if (e instanceof CmEvent.Disconnected) {
              session.disconnected();
            }
          }))), "connect from " + device.name() + " to " + destination.get());
      device.setClientData(self, new PerDevice(ep, session, c));
      session.result().thenAccept(results);
      session.start();
      return true;
    } catch (PingPongException e) {
      log.warn("{}: {}; {} is left alone", name, e.getMessage(), device.name());
      ep.close();
      return false;
    }
  }

  /** Stops the session, disconnects, drains and destroys. <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) {
    PerDevice d = (PerDevice) clientData;
    d.session().stop();
    try {
      await(d.connection().disconnect(), "disconnect of QP " + d.ep().qp.qpNum() + " on " + device.name());
    } catch (PingPongException e) {
      log.debug("{}: {}", name, e.getMessage()); // the server disconnected first
    }
    d.ep().close();
    d.session().drained();
  }
}
