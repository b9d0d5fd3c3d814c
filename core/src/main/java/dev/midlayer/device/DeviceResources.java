package dev.midlayer.device;

import dev.midlayer.context.ContextChecker;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

/**
 * Internal API for the verbs objects: runs a may-sleep create or destroy verb on the device's actor, so
 * that all of a device's object creation and destruction is serialised with its unregistration, and the
 * device's record of resources is exact.
 */
public final class DeviceResources {
  private DeviceResources() {}

  /** Spawns the actors an object needs (a CQ's actor) as children of the device actor. */
  public interface Spawner {
    /** Spawns {@code behavior} on the data-path dispatcher ({@code midlayer.dispatchers.data-path}). */
    <M> ActorRef<M> spawnDataPath(Behavior<M> behavior, String name);
  }

  /** The body of a create verb; runs on the device actor. */
  @FunctionalInterface
  public interface CreateBody<T> {
    T create(Spawner spawner) throws Exception;
  }

  /**
   * Runs {@code body} on the device actor and records what it returns. Checks the context rule and that
   * the device is usable first.
   *
   * @param verb the verb's name, for errors
   */
  public static <T extends DeviceResource> CompletionStage<T> create(Device device, String verb, CreateBody<T> body) {
    device.contextChecker().mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<T> result = new CompletableFuture<>();
    device.actor().tell(new DeviceActor.Create<>(verb, body, result));
    return result;
  }

  /**
   * Runs {@code body} on the device actor and, if it succeeds, forgets {@code resource}. Checks the
   * context rule and that the device is usable first.
   */
  public static CompletionStage<Done> destroy(Device device, String verb, DeviceResource resource,
      Callable<Void> body) {
    device.contextChecker().mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<Done> result = new CompletableFuture<>();
    device.actor().tell(new DeviceActor.Destroy(verb, resource, body, result));
    return result;
  }

  /**
   * Runs a may-sleep verb's {@code body} on the device actor (serialised with the device's other
   * may-sleep verbs and with its unregistration). Checks the context rule and that the device is usable.
   */
  public static <T> CompletionStage<T> run(Device device, String verb, Callable<T> body) {
    device.contextChecker().mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<T> result = new CompletableFuture<>();
    device.actor().tell(new DeviceActor.Run<>(verb, body, result));
    return result;
  }

  /** The driver's ops table of the device. */
  public static dev.midlayer.spi.DeviceOps ops(Device device) {
    return device.ops();
  }

  /** The settings of the device's midlayer. */
  public static dev.midlayer.MidlayerSettings settings(Device device) {
    return device.settings();
  }

  /** The verbs layer's state of the device. */
  public static dev.midlayer.verbs.DeviceVerbs verbs(Device device) {
    return device.verbs();
  }

  /** Throws {@link DeviceUnregisteredException} if the device's unregistration completed. */
  public static void checkUsable(Device device, String verb) {
    device.checkUsable(verb);
  }

  /** The context checker of the device's midlayer (for verbs that check without going to the actor). */
  public static ContextChecker contextChecker(Device device) {
    return device.contextChecker();
  }
}
