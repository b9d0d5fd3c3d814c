package dev.midlayer.internal;

import dev.midlayer.monitor.ContractMonitor;
import com.typesafe.config.Config;
import dev.midlayer.Midlayer;
import dev.midlayer.MidlayerSettings;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.context.ContextChecker;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.internal.cm.ConnectionManagerImpl;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.registry.ClientSource;
import dev.midlayer.internal.registry.RegistryActor;
import dev.midlayer.registry.RegistrySnapshot;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.MissingDriverOpException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Internal API. The {@link Midlayer} extension: the registry actor, its published snapshot, the settings. */
public final class MidlayerImpl implements Midlayer {
  private static final Logger log = LoggerFactory.getLogger(MidlayerImpl.class);
  private final ActorSystem<?> system;
  private final MidlayerSettings settings;
  private final ContextChecker contextChecker;
  private final AtomicReference<RegistrySnapshot> snapshot = new AtomicReference<>(RegistrySnapshot.EMPTY);
  private final ActorRef<RegistryActor.Command> registry;
  private final CallbackWatchdog watchdog;
  private final MonitorSlot monitor = new MonitorSlot();
  private volatile ConnectionManager connectionManager;

  public MidlayerImpl(ActorSystem<?> system) {
    this.system = system;
    this.settings = MidlayerSettings.fromConfig(system.settings().config());
    this.contextChecker = new ContextChecker(settings.contextCheck());
    Config config = system.settings().config();
    DispatcherCheck.requireNonBlocking(config, "midlayer.dispatchers.data-path", settings.dataPathDispatcher());
    DispatcherCheck.requireNonBlocking(config, "midlayer.dispatchers.callback", settings.callbackDispatcher());
    DispatcherCheck.keepReady(system, settings.dataPathDispatcher(), "midlayer-data-path");
    DispatcherCheck.keepReady(system, settings.callbackDispatcher(), "midlayer-callbacks");
    DispatcherCheck.keepReady(system, settings.controlDispatcher(), "midlayer-control");
    this.watchdog = new CallbackWatchdog(system, settings.callbackWarningAfter());
    system.getWhenTerminated().thenRun(watchdog::stop);
    this.registry = system.systemActorOf(
        RegistryActor.create(settings, contextChecker, snapshot, watchdog, monitor),
        "midlayer-registry",
        DispatcherSelector.fromConfig(settings.controlDispatcher()));
    if (system.settings().config().getBoolean("midlayer.monitor.attach")) {
      attachMonitor();
    }
    CoordinatedShutdown.get(system).addTask(settings.shutdownPhase(), "midlayer-unregister-devices",
        this::unregisterEverything);
  }

  /**
   * The CoordinatedShutdown task: unregisters every device (each client gets its remove, in reverse client
   * registration order per device), then every client, and completes when all of it finished or after
   * {@code midlayer.shutdown.timeout}, warning about each device and client that did not finish by then.
   */
  private CompletionStage<Done> unregisterEverything() {
    List<Device> devices = devices();
    List<ClientId> clients = clients();
    List<CompletableFuture<Done>> devicesGone = new ArrayList<>();
    for (Device d : devices) {
      devicesGone.add(quietly(() -> unregisterDevice(d)));
    }
    CompletableFuture<Done> all = CompletableFuture.allOf(devicesGone.toArray(CompletableFuture[]::new))
        .thenCompose(x -> {
          List<CompletableFuture<Done>> clientsGone = new ArrayList<>();
          for (ClientId c : clients) {
            clientsGone.add(quietly(() -> unregisterClient(c)));
          }
          return CompletableFuture.allOf(clientsGone.toArray(CompletableFuture[]::new));
        })
        .thenApply(x -> Done.getInstance());
    CompletableFuture<Done> bounded = new CompletableFuture<>();
    all.whenComplete((d, e) -> bounded.complete(Done.getInstance()));
    CompletableFuture.delayedExecutor(settings.shutdownTimeout().toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
      if (bounded.complete(Done.getInstance())) {
        for (int i = 0; i < devices.size(); i++) {
          if (!devicesGone.get(i).isDone()) {
            log.warn("midlayer shutdown: device {} was not unregistered within {} (a client's remove did not "
                + "return); the actor system terminates anyway", devices.get(i).name(), settings.shutdownTimeout());
          }
        }
        for (ClientId c : snapshotClientsStillThere(clients)) {
          log.warn("midlayer shutdown: {} was not unregistered within {}", c, settings.shutdownTimeout());
        }
      }
    });
    return bounded;
  }

  private List<ClientId> snapshotClientsStillThere(List<ClientId> clients) {
    List<ClientId> left = new ArrayList<>(clients);
    left.retainAll(clients());
    return left;
  }

  /** The verb's stage, with any failure (already unregistered, ...) taken as done: shutdown goes on. */
  private static CompletableFuture<Done> quietly(java.util.function.Supplier<CompletionStage<Done>> verb) {
    try {
      return verb.get().toCompletableFuture().handle((d, e) -> Done.getInstance());
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
  }

  @Override
  public ActorSystem<?> system() {
    return system;
  }

  @Override
  public MidlayerSettings settings() {
    return settings;
  }

  @Override
  public ContextChecker contextChecker() {
    return contextChecker;
  }

  @Override
  public ContractMonitor monitor() {
    return monitor.get();
  }

  @Override
  public ContractMonitor attachMonitor() {
    ContractMonitor m = monitor.attach(new ContractMonitor(system.name()));
    system.getWhenTerminated().thenRun(m::detached);
    return m;
  }

  /** The context rule of the registration verbs, reported to the monitor first (check 3). */
  private void mightSleep(String verb) {
    ContractMonitor m = monitor.get();
    String callback = dev.midlayer.context.AtomicContext.currentCallback();
    if (m != null && callback != null && contextChecker.mode() != dev.midlayer.context.ContextCheckMode.OFF) {
      m.maySleepInAtomic(verb, callback, null);
    }
    contextChecker.mightSleep(verb);
  }

  // ---- driver side ----

  @Override
  public CompletionStage<Device> registerDevice(String name, DeviceOps ops) {
    mightSleep("registerDevice");
    checkDeviceName(name);
    InvalidArgumentException.requireNonNull(ops, "ops");
    if (!ops.missingMandatoryOps().isEmpty()) {
      throw new MissingDriverOpException(ops.driverName(), ops.missingMandatoryOps());
    }
    CompletableFuture<Device> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.RegisterDevice(name, ops, result));
    return result;
  }

  @Override
  public CompletionStage<Done> unregisterDevice(Device device) {
    mightSleep("unregisterDevice");
    InvalidArgumentException.requireNonNull(device, "device");
    if (device instanceof DeviceImpl impl) {
      impl.refuseSelfWait("unregisterDevice"); // from its own driver op: it would wait for that op to return
    }
    CompletableFuture<Done> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.UnregisterDevice(device, result));
    return result;
  }

  // ---- consumer side ----

  @Override
  public CompletionStage<ClientId> registerClient(Client client) {
    mightSleep("registerClient");
    InvalidArgumentException.requireNonNull(client, "client");
    String name = InvalidArgumentException.requireNonBlank(client.name(), "client.name");
    return register(name, new ClientSource.Plain(client));
  }

  @Override
  public CompletionStage<ClientId> registerClient(String name, Behavior<ClientMessage> behavior) {
    mightSleep("registerClient");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(behavior, "behavior");
    return register(name, new ClientSource.Spawned(behavior));
  }

  @Override
  public CompletionStage<ClientId> registerClient(String name, ActorRef<ClientMessage> clientActor) {
    mightSleep("registerClient");
    InvalidArgumentException.requireNonBlank(name, "name");
    InvalidArgumentException.requireNonNull(clientActor, "clientActor");
    return register(name, new ClientSource.Existing(clientActor));
  }

  private CompletionStage<ClientId> register(String name, ClientSource source) {
    CompletableFuture<ClientId> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.RegisterClient(name, source, result));
    return result;
  }

  @Override
  public CompletionStage<Done> unregisterClient(ClientId client) {
    mightSleep("unregisterClient");
    InvalidArgumentException.requireNonNull(client, "client");
    CompletableFuture<Done> result = new CompletableFuture<>();
    registry.tell(new RegistryActor.UnregisterClient(client, result));
    return result;
  }

  @Override
  public ConnectionManager connectionManager() {
    ConnectionManager c = connectionManager;
    if (c != null) {
      return c;
    }
    synchronized (this) {
      // Made on first use, so a midlayer that never connects has no CM client in its registry.
      if (connectionManager == null) {
        connectionManager = new ConnectionManagerImpl(system, settings.controlDispatcher(),
            settings.callbackDispatcher(), watchdog, ref -> register("midlayer-cm", new ClientSource.Existing(ref)));
      }
      return connectionManager;
    }
  }

  // ---- lookups: never wait on the registry ----

  @Override
  public RegistrySnapshot snapshot() {
    return snapshot.get();
  }




  private static void checkDeviceName(String name) {
    InvalidArgumentException.requireNonBlank(name, "name");
    if (name.length() > MAX_DEVICE_NAME_LENGTH) {
      throw new InvalidArgumentException("name",
          "'" + name + "' is longer than " + MAX_DEVICE_NAME_LENGTH + " characters");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '/' || Character.isISOControl(c)) {
        throw new InvalidArgumentException("name", "'" + name + "' contains whitespace, '/' or a control character");
      }
    }
    int percent = name.indexOf('%');
    if (percent >= 0 && (!name.startsWith("%d", percent) || name.indexOf('%', percent + 1) >= 0)) {
      throw new InvalidArgumentException("name", "'" + name + "': the only pattern allowed is one %d");
    }
  }
}
