package dev.midlayer.ulp.kv;

import static dev.midlayer.ulp.kv.KvEndpoint.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;

/**
 * The key-value server, a registered client: on every device it is added to (and its filter accepts), a table
 * ({@link KvLayout}) registered for remote READ, and a listener through the CM. Clients GET by reading the table
 * themselves: the server's CPU is not involved. They PUT by SEND; the server writes the slot from the completion
 * callback ({@link KvTable}) and answers. {@code remove} stops listening, releases every connection, and
 * deregisters the table.
 *
 * <p>Construct it (which starts the CM) before registering it. Threading: {@code add} and {@code remove} run one
 * at a time; the counters may be read from any thread.
 */
public final class KvServer implements Client {
  private static final AtomicLong ACCEPTORS = new AtomicLong();

  private final String name;
  private final Predicate<Device> devices;
  private final long serviceId;
  private final KvLayout layout;
  private final ActorSystem<?> system;
  private final ConnectionManager cm;
  private final LongAdder puts = new LongAdder();

  private record PerDevice(ProtectionDomain pd, MemoryRegion table, CmListener listener, KvAcceptor acceptor,
      ActorRef<KvAcceptor.Command> ref) {}

  /**
   * A server named {@code name} on {@code midlayer} for the devices {@code devices} accepts, listening for
   * {@code serviceId} with a table of {@code layout} per device. Never blocks (it starts the CM on first use
   * without waiting for it); any thread.
   */
  public KvServer(Midlayer midlayer, String name, Predicate<Device> devices, long serviceId, KvLayout layout) {
    this.name = name;
    this.devices = devices;
    this.serviceId = serviceId;
    this.layout = layout;
    this.system = midlayer.system();
    this.cm = midlayer.connectionManager();
  }

  @Override
  public String name() {
    return name;
  }

  /** PUTs applied, on every device. Never blocks; any thread. */
  public long puts() {
    return puts.sum();
  }

  /** Clients connected to {@code device} now. Never blocks; any thread. */
  public int connections(Device device, ClientId self) {
    return device.getClientData(self) instanceof PerDevice d ? d.acceptor().connections() : 0;
  }

  /** Registers the table, starts the acceptor, listens. <b>May sleep</b>. */
  @Override
  public boolean add(Device device, ClientId self) {
    if (!devices.test(device)) {
      return false;
    }
    ProtectionDomain pd = await(device.allocPd(), "allocPd on " + device.name());
    MemoryRegion table = await(pd.registerMr(ByteBuffer.allocateDirect((int) layout.tableBytes()),
        AccessFlags.LOCAL_WRITE | AccessFlags.REMOTE_READ), "registerMr of the table on " + device.name());
    KvAcceptor acceptor = new KvAcceptor(device, pd, table, layout, cm, puts, name);
    CompletableFuture<ActorRef<CmEvent>> sink = new CompletableFuture<>();
    ActorRef<KvAcceptor.Command> ref = system.systemActorOf(acceptor.behavior(sink),
        "kv-" + name + "-" + device.name() + "-" + ACCEPTORS.incrementAndGet(), DispatcherSelector.blocking());
    CmListener listener = await(cm.listen(device, 1, serviceId, CmEventSink.of(await(sink, "the acceptor's start"))),
        "listen on " + device.name());
    device.setClientData(self, new PerDevice(pd, table, listener, acceptor, ref));
    return true;
  }

  /** <b>May sleep</b>. */
  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    PerDevice d = (PerDevice) clientData;
    await(d.listener().stop(), "stop of the listener on " + device.name());
    CompletableFuture<Void> released = new CompletableFuture<>();
    d.ref().tell(new KvAcceptor.Stop(released));
    released.get(60, TimeUnit.SECONDS);
    await(d.table().deregister(), "deregister of the table on " + device.name());
    await(d.pd().dealloc(), "dealloc of the PD on " + device.name());
  }
}
