package dev.midlayer.spi;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

/**
 * Spawns a driver's actors for one object (a QP's engine actor) as children of the midlayer's device actor,
 * on the data-path dispatcher ({@code midlayer.dispatchers.data-path}), so that they stop with the device.
 * The midlayer wraps each in its supervision: an exception that escapes a driver actor is logged and the
 * actor resumes with its state (a driver bug must not leave posted work requests without completions).
 * Supervision is an interceptor around the behaviour: a handler that keeps the behaviour should return
 * {@code Behaviors.same()} rather than {@code this}, which Pekko treats as a new behaviour and re-wraps on
 * every message.
 * Called only inside {@link DeviceOps.CreateQp}, in the device actor's turn.
 */
@FunctionalInterface
public interface Spawner {
  /**
   * Spawns {@code behavior} as a child of the device actor named {@code name} (unique among its children)
   * and returns its reference. Never blocks (the actor starts asynchronously); only in the device actor's
   * turn, inside {@link DeviceOps.CreateQp}: it uses the actor's context, which no other thread may touch.
   */
  <M> ActorRef<M> spawn(Behavior<M> behavior, String name);
}
