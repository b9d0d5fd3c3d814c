package dev.midlayer.ulp.pingpong;

import static dev.midlayer.ulp.pingpong.PingPongEndpoint.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pingpong server, a registered client: on every device it is added to (and its filter accepts), it listens
 * on port 1 for the pingpong service ID and echoes every message of every connection back to its sender.
 *
 * <p>Per device, an {@link Acceptor} actor gets the CM's events and sets connections up and down; {@link #remove}
 * stops the listener, then has the acceptor disconnect, drain and destroy every connection of the device, and
 * returns once that is done.
 *
 * <p>Construct it after the connection manager exists or let it start the CM (it calls
 * {@link Midlayer#connectionManager()}), then register it: the CM is then added to each device before the server,
 * so the server can listen from its {@code add}. Threading: {@code add} and {@code remove} run one at a time; the
 * accessors may be called from any thread.
 */
public final class PingPongServer implements Client {
  private static final Logger log = LoggerFactory.getLogger(PingPongServer.class);
  /** How long {@link #remove} waits for the device's connections to be released. */
  private static final Duration RELEASE_TIMEOUT = Duration.ofSeconds(60);
  private static final AtomicLong ACCEPTORS = new AtomicLong();

  private final String name;
  private final Predicate<Device> devices;
  private final long serviceId;
  private final boolean busyPoll;
  private final ActorSystem<?> system;
  private final ConnectionManager cm;
  private final LongAdder echoes = new LongAdder();

  /** What the server keeps per device, as client data. */
  private record PerDevice(CmListener listener, Acceptor acceptor, ActorRef<Acceptor.Command> ref) {}

  /**
   * A server named {@code name} on {@code midlayer}, for the devices {@code devices} accepts, listening for
   * {@code serviceId}; with {@code busyPoll}, each connection's CQ is busy-polled by a thread of its own.
   * Never blocks (it starts the CM on first use without waiting for it); any thread.
   */
  public PingPongServer(Midlayer midlayer, String name, Predicate<Device> devices, long serviceId, boolean busyPoll) {
    this.name = name;
    this.devices = devices;
    this.serviceId = serviceId;
    this.busyPoll = busyPoll;
    this.system = midlayer.system();
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** Messages echoed so far, on every device and connection. Never blocks; any thread. */
  public long echoes() {
    return echoes.sum();
  }

  /** Connections open now on {@code device} ({@code self}: this client's id). Never blocks; any thread. */
  public int connections(Device device, ClientId self) {
    return device.getClientData(self) instanceof PerDevice d ? d.acceptor().connections() : 0;
  }

  /** Starts the device's acceptor and listens on port 1. <b>May sleep</b> (the midlayer's client dispatcher). */
  @Override
  public boolean add(Device device, ClientId self) {
    if (!devices.test(device)) {
      return false;
    }
    Acceptor acceptor = new Acceptor(device, name, cm, busyPoll, echoes);
    CompletableFuture<ActorRef<CmEvent>> sink = new CompletableFuture<>();
    ActorRef<Acceptor.Command> ref = system.systemActorOf(acceptor.behavior(sink),
        "pingpong-" + name + "-" + device.name() + "-" + ACCEPTORS.incrementAndGet(), DispatcherSelector.blocking());
    try {
      CmListener listener = await(cm.listen(device, 1, serviceId, CmEventSink.of(await(sink, "the acceptor's start"))),
          "listen for service 0x" + Long.toHexString(serviceId) + " on " + device.name());
      device.setClientData(self, new PerDevice(listener, acceptor, ref));
    } catch (PingPongException e) {
      ref.tell(new Acceptor.Stop(new CompletableFuture<>()));
      throw e;
    }
    log.info("{}: listening on {} port 1", name, device.name());
    return true;
  }

  /** Stops listening, then releases every connection of the device. <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    PerDevice d = (PerDevice) clientData;
    await(d.listener().stop(), "stop of the listener on " + device.name());
    CompletableFuture<Void> released = new CompletableFuture<>();
    d.ref().tell(new Acceptor.Stop(released)); // after every request the acceptor has, so after their set-up
    released.get(RELEASE_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }
}
