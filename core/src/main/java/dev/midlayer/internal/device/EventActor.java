package dev.midlayer.internal.device;

import dev.midlayer.client.ClientId;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.EventHandler;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.internal.CallbackGuard;
import dev.midlayer.internal.CallbackWatch;
import dev.midlayer.internal.CallbackWatchdog;
import dev.midlayer.internal.Replies;
import dev.midlayer.registry.LeftoverReclaimed;
import dev.midlayer.registry.NotRegisteredException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;

/**
 * Internal API. The actor that delivers one device's async events: the unaffiliated ones
 * ({@code ib_dispatch_event}) to the device's registered handlers, in registration order, and the affiliated
 * ones (QP, SRQ) to their object's handler. One event at a time, in the order they were dispatched or raised
 * (FIFO per device), never on the caller's thread (a driver actor, a poster), always on the consumer-callback
 * dispatcher: a handler that blocks holds up this device's events, never a transport engine.
 *
 * <p>Two behaviours: {@link #ready()}, and {@link #refreshingPort} while the device actor reads a port's
 * attributes before handlers see a port event (later messages are stashed, so the order holds). Every handler
 * call goes through {@link CallbackGuard}: one that throws is logged and the next one runs.
 */
final class EventActor {
  /** Messages of the event actor. */
  sealed interface Command {}

  /** An unaffiliated event to fan out. */
  record Dispatch(AsyncEvent event) implements Command {}

  /**
   * An affiliated event for one object's handler; dropped if the object is gone by then ({@code alive}
   * false), so nothing of a destroyed object calls back.
   */
  record Raise(AsyncEvent event, EventHandler handler, String callbackName, ClientId owner, BooleanSupplier alive)
      implements Command {}

  record Register(EventHandlerRegistrationImpl registration, CompletableFuture<EventHandlerRegistration> result)
      implements Command {}

  record Unregister(EventHandlerRegistrationImpl registration, CompletableFuture<Done> result) implements Command {}

  /** Completes {@code result} once every event before it was delivered (a destroy's fence). */
  record Barrier(CompletableFuture<Done> result) implements Command {}

  /** From the device actor: the port cache was refreshed for {@code event} ({@code ok} false: it could not be). */
  record PortRefreshed(AsyncEvent event, boolean ok) implements Command {}

  /** A client's remove returned: report and drop the handlers it left registered, then reply. */
  record DropHandlers(ClientId client, ActorRef<Done> replyTo) implements Command {}

  /** The device is going: report and drop the handlers still registered, and stop. */
  record Stop() implements Command {}

  static Behavior<Command> create(DeviceImpl device, ActorRef<DeviceActor.Command> deviceActor,
      CallbackWatchdog watchdog) {
    return Behaviors.setup(ctx -> Behaviors.withStash(1 << 20,
        stash -> new EventActor(ctx, stash, device, deviceActor, watchdog).ready()));
  }

  private final ActorContext<Command> ctx;
  private final StashBuffer<Command> stash;
  private final DeviceImpl device;
  private final ActorRef<DeviceActor.Command> deviceActor;
  private final CallbackWatchdog watchdog;
  private final CallbackWatch watch;
  private final Executor replyExecutor;
  /** Registered handlers, in registration order. */
  private final List<EventHandlerRegistrationImpl> handlers = new ArrayList<>();

  private EventActor(ActorContext<Command> ctx, StashBuffer<Command> stash, DeviceImpl device,
      ActorRef<DeviceActor.Command> deviceActor, CallbackWatchdog watchdog) {
    this.ctx = ctx;
    this.stash = stash;
    this.device = device;
    this.deviceActor = deviceActor;
    this.watchdog = watchdog;
    this.watch = watchdog.watch();
    this.replyExecutor = ctx.getSystem().executionContext();
  }

  private Behavior<Command> ready() {
    return Behaviors.receive(Command.class)
        .onMessage(Dispatch.class, m -> {
          if (m.event().type().refreshesPortCache()) {
            // As the kernel's cache does: handlers see the port's new state. The driver's query runs on the
            // device actor (it may sleep); this actor waits for it and keeps later events in order.
            deviceActor.tell(new DeviceActor.RefreshPort(m.event(), ctx.getSelf()));
            return refreshingPort(m.event());
          }
          fanOut(m.event());
          return Behaviors.same();
        })
        .onMessage(Raise.class, m -> {
          if (m.alive().getAsBoolean()) {
            CallbackGuard.call(device.monitor(), null, device, m.owner(), watch, m.callbackName(), m.event(),
                ctx.getLog(), () -> m.handler().onEvent(m.event()));
          }
          return Behaviors.same();
        })
        .onMessage(Register.class, m -> {
          handlers.add(m.registration());
          Replies.complete(replyExecutor, m.result(), m.registration());
          return Behaviors.same();
        })
        .onMessage(Unregister.class, m -> {
          // Handled between events: when it completes, the handler is not running and never runs again.
          if (handlers.remove(m.registration())) {
            Replies.complete(replyExecutor, m.result(), Done.getInstance());
          } else {
            Replies.fail(replyExecutor, m.result(), new NotRegisteredException(m.registration() + " is not registered"));
          }
          return Behaviors.same();
        })
        .onMessage(Barrier.class, m -> {
          Replies.complete(replyExecutor, m.result(), Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(PortRefreshed.class, m -> Behaviors.same())
        .onMessage(DropHandlers.class, m -> {
          for (EventHandlerRegistrationImpl h : List.copyOf(handlers)) {
            if (m.client().equals(h.owner())) {
              handlers.remove(h);
              leftover(h, m.client(), "was still registered after its remove returned");
            }
          }
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .onMessage(Stop.class, m -> stop())
        .build();
  }

  private void leftover(EventHandlerRegistrationImpl h, ClientId client, String what) {
    ctx.getLog().warn("{} {}: unregistered by the midlayer (a client must undo everything in its remove)", h, what);
    ctx.getSystem().eventStream().tell(new EventStream.Publish<>(
        new LeftoverReclaimed(client, device.name(), h.toString())));
    if (device.monitor() != null) {
      device.monitor().leftover(client, device.name(), h.toString());
    }
  }

  private Behavior<Command> refreshingPort(AsyncEvent pending) {
    return Behaviors.receive(Command.class)
        .onMessage(PortRefreshed.class, m -> m.event() == pending, m -> {
          if (m.ok()) {
            fanOut(m.event());
          }
          return stash.unstashAll(ready());
        })
        .onMessage(Stop.class, m -> stop())
        .onMessage(DropHandlers.class, m -> {
          stash.stash(m);
          return Behaviors.same();
        })
        .onAnyMessage(m -> {
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  private void fanOut(AsyncEvent event) {
    for (EventHandlerRegistrationImpl h : handlers) {
      CallbackGuard.call(device.monitor(), null, device, h.owner(), watch, h.callbackName(), event, ctx.getLog(),
          () -> h.handler().onEvent(event));
    }
  }

  private Behavior<Command> stop() {
    for (EventHandlerRegistrationImpl h : handlers) {
      leftover(h, h.owner(), "was still registered after every client's remove");
    }
    handlers.clear();
    watchdog.forget(watch);
    return Behaviors.stopped();
  }
}
