package dev.midlayer.ulp.fetch;

import static dev.midlayer.ulp.fetch.FetchEndpoint.await;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmEvent;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.device.Device;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fetch target as a registered client: on every device it is added to (and its filter accepts), it listens on
 * port 1 for a service ID through the connection manager and serves the same store to every initiator that
 * connects, each connection with a {@link FetchTarget} of its own.
 *
 * <p>No callback sleeps: the CM tells each connection request, and each connection the initiator disconnected,
 * to the device's set-up actor (an {@code ActorRef} sink; the actor runs on the blocking dispatcher), which makes the {@link FetchTarget} (may sleep), accepts, and
 * later drains and destroys it. {@link #remove} stops the listener, then disconnects, drains and destroys every
 * connection of the device on that actor, and returns once that is done: nothing of the device is left, and the
 * initiators' fetches in flight fail with {@link FetchException} (their QPs are flushed by the disconnect).
 *
 * <p>Construct it after the connection manager exists or let it start the CM (it calls
 * {@link Midlayer#connectionManager()}), then register it. Threading: {@code add} and {@code remove} run one at a
 * time on the midlayer's client dispatcher and may sleep; the accessors never block and may be called from any
 * thread.
 */
public final class FetchTargetClient implements Client {
  private static final Logger log = LoggerFactory.getLogger(FetchTargetClient.class);
  /** How long {@link #remove} waits for the device's connections to be released. */
  private static final long RELEASE_TIMEOUT_SECONDS = 60;
  private static final AtomicLong ACTORS = new AtomicLong();

  /** What a device's set-up actor handles: the CM's events, and the last task (release everything, then stop). */
  private sealed interface Task {}

  private record FromCm(CmEvent event) implements Task {}

  private record Stop(CompletableFuture<Void> done) implements Task {}

  private final String name;
  private final Predicate<Device> devices;
  private final long serviceId;
  private final ByteBuffer store;
  private final int depth;
  private final ConnectionManager cm;
  private final ActorSystem<?> system;
  private final Map<Device, PerDevice> perDevice = new ConcurrentHashMap<>();

  /**
   * What the client keeps per device: the listener, the set-up actor (on the actor system's blocking dispatcher,
   * so it may sleep; the CM tells it its events), and the targets by QP number. The targets are added and
   * removed by the set-up actor only; read by other threads for {@link #connections}.
   */
  private final class PerDevice {
    final Device device;
    final ActorRef<Task> setup;
    /** The ref the CM tells the listener's and the connections' events to (an adapter of {@link #setup}). */
    final CompletableFuture<ActorRef<CmEvent>> sink = new CompletableFuture<>();
    final Map<Integer, FetchTarget> targets = new ConcurrentHashMap<>();
    volatile CmListener listener;
    volatile boolean stopping;

    PerDevice(Device device) {
      this.device = device;
      this.setup = system.systemActorOf(behavior(), "fetch-target-" + name + "-" + device.name() + "-"
          + ACTORS.incrementAndGet(), DispatcherSelector.blocking());
    }

    private Behavior<Task> behavior() {
      return Behaviors.setup(ctx -> {
        sink.complete(ctx.messageAdapter(CmEvent.class, FromCm::new));
        return Behaviors.receive(Task.class)
          .onMessage(FromCm.class, m -> {
            onEvent(m.event());
            return Behaviors.same();
          })
          .onMessage(Stop.class, s -> {
            try {
              new ArrayList<>(targets.keySet()).forEach(this::retire);
              s.done().complete(null);
            } catch (RuntimeException e) {
              s.done().completeExceptionally(e);
            }
            return Behaviors.stopped();
          })
          .build();
      });
    }

    /** A CM event for the listener or one of its connections. The set-up actor: may sleep. */
    private void onEvent(CmEvent event) {
      if (event instanceof CmEvent.ConnectRequest r) {
        accept(r);
      } else if (event instanceof CmEvent.Disconnected d && d.connection().qp() != null) {
        retire(d.connection().qp().qpNum());
      }
    }

    /** Makes a target for the request and accepts it. The set-up actor: sleeps. */
    private void accept(CmEvent.ConnectRequest r) {
      if (stopping) {
        r.reject(null);
        return;
      }
      FetchTarget target;
      try {
        target = new FetchTarget(device, store.duplicate(), depth);
      } catch (RuntimeException e) {
        log.warn("{}: cannot serve {} on {}: {}", name, r.remoteGid(), device.name(), e.getMessage());
        r.reject(null);
        return;
      }
      targets.put(target.qpNum(), target);
      try {
        target.accept(cm, r.request(), CmEventSink.of(sink.join()));
        log.debug("{}: serving {} on {}", name, r.remoteGid(), device.name());
      } catch (RuntimeException e) {
        log.warn("{}: connection from {} on {} failed: {}", name, r.remoteGid(), device.name(), e.getMessage());
        retire(target.qpNum());
      }
    }

    /** Disconnects (if still connected), drains and destroys one target. The set-up actor: sleeps. */
    private void retire(int qpn) {
      FetchTarget t = targets.remove(qpn);
      if (t != null) {
        t.close();
      }
    }

    /** Releases every target, on the set-up actor, and stops the actor. Sleeps. */
    void release() throws Exception {
      stopping = true;
      CmListener l = listener;
      if (l != null) {
        await(l.stop());
      }
      CompletableFuture<Void> released = new CompletableFuture<>();
      setup.tell(new Stop(released)); // after every request the actor has, so after their set-up
      released.get(RELEASE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
  }

  /**
   * A target client named {@code name} on {@code midlayer}, for the devices {@code devices} accepts (called in
   * {@code add}), listening for {@code serviceId} and serving {@code store}'s bytes from its position to its limit
   * (registered on each device, not copied; the client never writes it) to up to {@code depth} outstanding
   * requests per connection. Never blocks (it starts the CM on first use without waiting for it); any thread.
   */
  public FetchTargetClient(Midlayer midlayer, String name, Predicate<Device> devices, long serviceId,
      ByteBuffer store, int depth) {
    if (!store.isDirect()) {
      throw new IllegalArgumentException("the store must be a direct buffer");
    }
    this.name = name;
    this.devices = devices;
    this.serviceId = serviceId;
    this.store = store.slice();
    this.depth = depth;
    this.cm = midlayer.connectionManager();
    this.system = midlayer.system();
  }

  @Override
  public String name() {
    return name;
  }

  /** The devices it serves on now. Never blocks; any thread. */
  public List<Device> devices() {
    return List.copyOf(perDevice.keySet());
  }

  /** Initiators connected (or being set up) on {@code device} now. Never blocks; any thread. */
  public int connections(Device device) {
    PerDevice d = perDevice.get(device);
    return d == null ? 0 : d.targets.size();
  }

  /** Listens on port 1 of the device. <b>May sleep</b> (the midlayer's client dispatcher). */
  @Override
  public boolean add(Device device, ClientId self) throws Exception {
    if (!devices.test(device)) {
      return false;
    }
    PerDevice d = new PerDevice(device);
    try {
      d.listener = await(cm.listen(device, 1, serviceId, CmEventSink.of(await(d.sink))));
    } catch (FetchException e) {
      d.release();
      throw e;
    }
    perDevice.put(device, d);
    device.setClientData(self, d);
    log.info("{}: serving on {} port 1", name, device.name());
    return true;
  }

  /**
   * Stops listening, then disconnects, drains and destroys every connection of the device before returning.
   * <b>May sleep</b> (the midlayer's client dispatcher).
   */
  @Override
  public void remove(Device device, ClientId self, Object clientData) throws Exception {
    PerDevice d = perDevice.remove(device);
    if (d != null) {
      d.release();
    }
  }
}
