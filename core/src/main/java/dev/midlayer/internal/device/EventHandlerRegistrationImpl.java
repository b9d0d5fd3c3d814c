package dev.midlayer.internal.device;

import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandler;
import dev.midlayer.device.EventHandlerRegistration;

/** Internal API. A registered device event handler: its device, name and handler. Immutable; identity-based. */
public final class EventHandlerRegistrationImpl implements EventHandlerRegistration {
  private final DeviceImpl device;
  private final String name;
  private final EventHandler handler;
  private final String callbackName;
  /** The client that registered it (the caller's {@link ClientContext}), or null. */
  private final ClientId owner = ClientContext.current();

  EventHandlerRegistrationImpl(DeviceImpl device, String name, EventHandler handler) {
    this.device = device;
    this.name = name;
    this.handler = handler;
    this.callbackName = "event handler '" + name + "' on " + device.name() + (owner == null ? "" : " (" + owner + ")");
  }

  /** The client that registered it, or null. */
  public ClientId owner() {
    return owner;
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public String name() {
    return name;
  }

  EventHandler handler() {
    return handler;
  }

  /** The callback's name for atomic-context marks and logs. */
  public String callbackName() {
    return callbackName;
  }

  @Override
  public String toString() {
    return callbackName;
  }
}
