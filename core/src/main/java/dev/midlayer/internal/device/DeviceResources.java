package dev.midlayer.internal.device;

import dev.midlayer.client.ClientId;
import dev.midlayer.internal.ClientFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Internal API for the verbs objects: runs a may-sleep create or destroy verb on the device's actor, so
 * that all of a device's object creation and destruction is serialised with its unregistration, and the
 * device's record of resources is exact.
 */
public final class DeviceResources {
  private DeviceResources() {}

  /** The body of a create verb; runs on the device actor and returns the new object, a {@link DeviceResource}. */
  @FunctionalInterface
  public interface CreateBody<T> {
    T create(DeviceActor.Spawners spawners) throws Exception;
  }

  /**
   * Runs {@code body} on the device actor and records what it returns. Checks the context rule and that
   * the device is usable first.
   *
   * @param verb the verb's name, for errors
   */
  public static <T> CompletionStage<T> create(DeviceImpl device, String verb, CreateBody<? extends T> body) {
    device.mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<T> result = newResult(device, verb);
    device.actor().tell(new DeviceActor.Create<T>(verb, body, result));
    return result;
  }

  /**
   * Runs {@code body} on the device actor and, if it succeeds, forgets {@code resource}. Checks the
   * context rule and that the device is usable first.
   */
  public static CompletionStage<Done> destroy(DeviceImpl device, String verb, DeviceResource resource,
      Callable<Void> body) {
    device.mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<Done> result = newResult(device, verb);
    device.actor().tell(new DeviceActor.Destroy(verb, resource, body, result));
    return result;
  }

  /**
   * Runs a may-sleep verb's {@code body} on the device actor (serialised with the device's other
   * may-sleep verbs and with its unregistration). Checks the context rule and that the device is usable.
   */
  /**
   * The verb's result, remembering the client the caller acts for (its body runs as that client on the device
   * actor). A client that is not added to the device (its remove returned, or it declined it) may not make
   * objects there: they would outlive its remove.
   */
  private static <T> ClientFuture<T> newResult(DeviceImpl device, String verb) {
    DeviceActorThread.refuseSelfWait(device, verb);
    ClientFuture<T> result = new ClientFuture<>();
    ClientId client = result.owner();
    if (client != null && !device.hasClient(client)) {
      throw new IllegalStateException(verb + ": " + client + " is not added to " + device.name()
          + " (its remove returned, or it declined the device): what it made there would outlive its remove");
    }
    return result;
  }

  public static <T> CompletionStage<T> run(DeviceImpl device, String verb, Callable<T> body) {
    device.mightSleep(verb);
    device.checkUsable(verb);
    CompletableFuture<T> result = newResult(device, verb);
    device.actor().tell(new DeviceActor.Run<>(verb, body, result));
    return result;
  }
}
