package dev.midlayer.ulp.rpc;

import static dev.midlayer.ulp.rpc.RpcWire.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;

/**
 * The rpc server, a registered client: on every device it is added to (and its filter accepts), an SRQ of
 * {@code srqDepth} receives shared by every client, {@code credits} per client, and a listener through the CM.
 * Construct it (which starts the CM) before registering it. Threading: {@code add} and {@code remove} run one at
 * a time; the counters may be read from any thread.
 */
public final class RpcServer implements Client {
  /** The largest request. */
  public static final int MAX_REQUEST = 1024;
  /** The largest response: it is sent INLINE. */
  public static final int MAX_RESPONSE = 244;
  private static final AtomicLong ACCEPTORS = new AtomicLong();

  private final String name;
  private final Predicate<Device> devices;
  private final long serviceId;
  private final int srqDepth;
  private final int credits;
  private final RpcHandler handler;
  private final ActorSystem<?> system;
  private final ConnectionManager cm;
  private final LongAdder calls = new LongAdder();

  private record PerDevice(RpcServerDevice dev, CmListener listener, RpcAcceptor acceptor,
      ActorRef<RpcAcceptor.Command> ref) {}

  /**
   * A server named {@code name} for the devices {@code devices} accepts: an SRQ of {@code srqDepth} receives per
   * device, {@code credits} calls in flight per client (so {@code srqDepth / credits} clients per device).
   * Never blocks (it starts the CM on first use without waiting for it); any thread.
   */
  public RpcServer(Midlayer midlayer, String name, Predicate<Device> devices, long serviceId, int srqDepth,
      int credits, RpcHandler handler) {
    if (credits < 1 || credits > srqDepth) {
      throw new IllegalArgumentException("credits must be 1..srqDepth (" + srqDepth + "), was " + credits);
    }
    this.name = name;
    this.devices = devices;
    this.serviceId = serviceId;
    this.srqDepth = srqDepth;
    this.credits = credits;
    this.handler = handler;
    this.system = midlayer.system();
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** Calls answered, on every device. Never blocks; any thread. */
  public long calls() {
    return calls.sum();
  }

  /** Clients connected on {@code device} now. Never blocks; any thread. */
  public int connections(Device device, ClientId self) {
    return device.getClientData(self) instanceof PerDevice d ? d.acceptor().connections() : 0;
  }

  /** <b>May sleep</b>. */
  @Override
  public boolean add(Device device, ClientId self) {
    if (!devices.test(device)) {
      return false;
    }
    RpcServerDevice dev = RpcServerDevice.open(device, srqDepth, credits, handler, calls);
    RpcAcceptor acceptor = new RpcAcceptor(dev, cm);
    CompletableFuture<ActorRef<CmEvent>> sink = new CompletableFuture<>();
    ActorRef<RpcAcceptor.Command> ref = system.systemActorOf(acceptor.behavior(sink),
        "rpc-" + name + "-" + device.name() + "-" + ACCEPTORS.incrementAndGet(), DispatcherSelector.blocking());
    CmListener listener = await(cm.listen(device, 1, serviceId, CmEventSink.of(await(sink, "the acceptor's start"))),
        "listen on " + device.name());
    device.setClientData(self, new PerDevice(dev, listener, acceptor, ref));
    return true;
  }

  /** Stops listening, releases every client, then the SRQ and the rest. <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    PerDevice d = (PerDevice) clientData;
    await(d.listener().stop(), "stop of the listener on " + device.name());
    CompletableFuture<Void> released = new CompletableFuture<>();
    d.ref().tell(new RpcAcceptor.Stop(released));
    released.get(60, TimeUnit.SECONDS);
    d.dev().close();
  }
}
