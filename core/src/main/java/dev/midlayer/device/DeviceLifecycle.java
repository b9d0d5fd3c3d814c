package dev.midlayer.device;

import dev.midlayer.client.ClientId;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API for the registry: the lifecycle steps of a device that only the registry may take.
 * Consumers and drivers never need it.
 */
public final class DeviceLifecycle {
  private DeviceLifecycle() {}

  /** Asks the device actor to set the device up from its driver. */
  public static void setup(Device device, ActorRef<DeviceActor.SetupResult> replyTo) {
    device.actor().tell(new DeviceActor.Setup(replyTo));
  }

  /** Asks the device actor to reclaim leftovers, dealloc the driver and mark the device UNREGISTERED. */
  public static void shutdown(Device device, ActorRef<Done> replyTo) {
    device.actor().tell(new DeviceActor.Shutdown(replyTo));
  }

  /** The device's actor (for the registry to stop it when set-up failed). */
  public static ActorRef<DeviceActor.Command> actor(Device device) {
    return device.actor();
  }

  /** Moves the device to {@code state} (the registry owns REGISTERED and UNREGISTERING). */
  public static void setState(Device device, DeviceState state) {
    device.setState(state);
  }

  /** Opens the client's data slot; called just before the client's add. */
  public static void openClientData(Device device, ClientId client) {
    device.openClientData(client);
  }

  /** Drops the client's data; called after its remove returned or its add failed. */
  public static void closeClientData(Device device, ClientId client) {
    device.closeClientData(client);
  }
}
