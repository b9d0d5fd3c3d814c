package dev.midlayer.client;

import dev.midlayer.device.Device;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The protocol of a client actor ({@code struct ib_client} as messages). A client given as a typed
 * {@code Behavior<ClientMessage>} receives these; the midlayer sends the next one only after the
 * client replied to the previous one, so a client handles one at a time.
 *
 * <p>A client may sleep while handling them (its actor runs on a dispatcher where blocking is allowed)
 * and may call back into the device (queries, allocations). The registry waits for the reply before it
 * goes on: every registration operation that needs this client (or the device it is in a callback for)
 * waits behind a client that never replies (a warning names the client and device, repeatedly); the others
 * run meanwhile.
 */
public sealed interface ClientMessage {

  /**
   * The device is ready: the client may use it from now on. Reply with {@link AddReply#added()} if the
   * client uses the device (it will get {@link DeviceRemoved} later), {@link AddReply#declined} if it
   * does not (e.g. not its kind of device), or {@link AddReply#failed} on error; after a decline or a
   * failure the client never gets {@code DeviceRemoved} for it.
   *
   * @param device the device
   * @param client this client's id: the key of its data on the device
   * @param replyTo where to reply when done
   */
  record DeviceAdded(Device device, ClientId client, ActorRef<AddReply> replyTo) implements ClientMessage {}

  /**
   * The device is going away. The client must release everything it holds on the device (objects,
   * event handlers) before replying {@code Done}; the device is fully usable until then.
   *
   * @param device the device
   * @param client this client's id
   * @param clientData the data the client stored with {@link Device#setClientData}, or null
   * @param replyTo where to reply when done
   */
  record DeviceRemoved(Device device, ClientId client, Object clientData, ActorRef<Done> replyTo)
      implements ClientMessage {}

  /**
   * A client's reply to {@link DeviceAdded}. Immutable; the factories never block and may be called from
   * any thread.
   */
  sealed interface AddReply {
    /** The client uses the device. */
    static AddReply added() {
      return Added.INSTANCE;
    }

    /** The client does not use this device (the kernel's {@code -EOPNOTSUPP} from add). */
    static AddReply declined(String reason) {
      return new Declined(reason);
    }

    /** The client failed to set itself up on the device. */
    static AddReply failed(Throwable cause) {
      return new Failed(cause);
    }
  }

  /** See {@link AddReply#added()}. */
  enum Added implements AddReply { INSTANCE }

  /** See {@link AddReply#declined}. */
  record Declined(String reason) implements AddReply {}

  /** See {@link AddReply#failed}. */
  record Failed(Throwable cause) implements AddReply {}
}
