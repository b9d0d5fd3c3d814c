package dev.midlayer.internal.cm;

import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.cm.ConnectOptions;
import dev.midlayer.cm.ConnectionManager;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.cm.UdRemote;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.ClientFuture;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;

/**
 * Internal API. The {@link ConnectionManager} of one midlayer: checks each call's arguments at once and hands it
 * to the {@link CmActor} (on the control dispatcher). Stateless but for the actor's ref; any thread.
 */
public final class ConnectionManagerImpl implements ConnectionManager {
  private final ActorRef<CmActor.Command> actor;

  public ConnectionManagerImpl(ActorSystem<?> system, String controlDispatcher, String callbackDispatcher,
      CallbackWatchdog watchdog, Function<ActorRef<ClientMessage>, CompletionStage<ClientId>> register) {
    CmSettings settings = CmSettings.fromConfig(system.settings().config());
    CompletableFuture<ClientId> registered = new CompletableFuture<>();
    this.actor = system.systemActorOf(CmActor.create(settings, watchdog, callbackDispatcher, registered),
        "midlayer-cm", DispatcherSelector.fromConfig(controlDispatcher));
    ActorRef<ClientMessage> endpoint = system.systemActorOf(CmActor.clientEndpoint(actor), "midlayer-cm-client",
        DispatcherSelector.fromConfig(controlDispatcher));
    // Sent now, on the caller's thread: a client registered after this returns is registered after the CM.
    register.apply(endpoint).whenComplete((id, e) -> {
      if (e != null) {
        registered.completeExceptionally(e);
      } else {
        registered.complete(id);
      }
    });
  }

  static int randomPsn() {
    return ThreadLocalRandom.current().nextInt(0x100_0000);
  }

  @Override
  public CompletionStage<CmListener> listen(Device device, int port, long serviceId, CmEventSink events) {
    checkPort(device, port);
    InvalidArgumentException.requireNonNull(events, "events");
    CompletableFuture<CmListener> result = new ClientFuture<>();
    actor.tell(new CmActor.Listen(device, port, serviceId, events, result));
    return result;
  }

  @Override
  public CompletionStage<CmConnection> connect(Device device, int port, CmDestination destination, long serviceId,
      QueuePair qp, byte[] privateData, ConnectOptions options) {
    checkPort(device, port);
    InvalidArgumentException.requireNonNull(destination, "destination");
    InvalidArgumentException.requireNonNull(options, "options");
    byte[] data = PrivateDataLimits.check("privateData", "REQ", PrivateDataLimits.REQ, privateData);
    checkConnectedQp(qp, device);
    CompletableFuture<CmConnection> result = new ClientFuture<>();
    actor.tell(new CmActor.Connect(device, port, destination, serviceId, qp, data, options, result));
    return result;
  }

  @Override
  public CompletionStage<UdRemote> resolveUd(Device device, int port, CmDestination destination, long serviceId,
      byte[] privateData) {
    checkPort(device, port);
    InvalidArgumentException.requireNonNull(destination, "destination");
    byte[] data = PrivateDataLimits.check("privateData", "SIDR_REQ", PrivateDataLimits.SIDR_REQ, privateData);
    CompletableFuture<UdRemote> result = new ClientFuture<>();
    actor.tell(new CmActor.ResolveUd(device, port, destination, serviceId, data, result));
    return result;
  }

  @Override
  public CompletionStage<Done> initQp(QueuePair qp, int port) {
    InvalidArgumentException.requireNonNull(qp, "qp");
    checkPort(qp.device(), port);
    checkConnectedQp(qp, qp.device());
    // The modify is made by the CM's actor, never on the caller's thread (which may be a callback).
    CompletableFuture<Done> result = new ClientFuture<>();
    actor.tell(new CmActor.InitQp(qp, port, result));
    return result;
  }

  private static void checkPort(Device device, int port) {
    InvalidArgumentException.requireNonNull(device, "device");
    if (port < 1 || port > device.portCount()) {
      throw new InvalidArgumentException("port", "port " + port + " does not exist on " + device.name()
          + " (ports are 1.." + device.portCount() + ")");
    }
  }

  private static void checkConnectedQp(QueuePair qp, Device device) {
    InvalidArgumentException.requireNonNull(qp, "qp");
    if (!qp.device().equals(device)) {
      throw new InvalidArgumentException("qp", qp + " is on " + qp.device().name() + ", not on " + device.name());
    }
    if (qp.type() == QpType.UD) {
      throw new InvalidArgumentException("qp", qp + " is UD: resolve the service with resolveUd instead");
    }
    QpState s = qp.state();
    if (s != QpState.RESET && s != QpState.INIT) {
      throw new InvalidArgumentException("qp", qp + " is in " + s + "; the CM connects a QP in RESET or INIT");
    }
  }
}
