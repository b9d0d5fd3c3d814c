package dev.midlayer.device;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * The token for an event handler registered on a device; pass it to
 * {@link Device#unregisterEventHandler} (or call {@link #unregister()}). Immutable; identity-based.
 */
public final class EventHandlerRegistration {
  private final Device device;
  private final String name;
  private final EventHandler handler;
  private final String callbackName;

  EventHandlerRegistration(Device device, String name, EventHandler handler) {
    this.device = device;
    this.name = name;
    this.handler = handler;
    this.callbackName = "event handler '" + name + "' on " + device.name();
  }

  /** The device the handler is registered on. */
  public Device device() {
    return device;
  }

  /** The name given at registration, used in logs. */
  public String name() {
    return name;
  }

  EventHandler handler() {
    return handler;
  }

  String callbackName() {
    return callbackName;
  }

  /** Same as {@code device().unregisterEventHandler(this)}: may sleep; not from atomic context. */
  public CompletionStage<Done> unregister() {
    return device.unregisterEventHandler(this);
  }

  @Override
  public String toString() {
    return callbackName;
  }
}
