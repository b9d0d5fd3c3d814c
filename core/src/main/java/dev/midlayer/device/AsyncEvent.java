package dev.midlayer.device;

import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.EventElement;
import dev.midlayer.ib.InvalidArgumentException;

/**
 * An asynchronous event ({@code struct ib_event}): which device, what happened, and the element it
 * concerns. The element's kind must match the type's ({@link AsyncEventType#element()}). Immutable;
 * constructing one never blocks and is allowed from any thread, callbacks included.
 */
public record AsyncEvent(Device device, AsyncEventType type, EventElement element) {

  /**
   * Checks the fields.
   *
   * @throws InvalidArgumentException if a field is null or the element's kind does not match the type's
   */
  public AsyncEvent {
    InvalidArgumentException.requireNonNull(device, "device");
    InvalidArgumentException.requireNonNull(type, "type");
    InvalidArgumentException.requireNonNull(element, "element");
    if (element.kind() != type.element()) {
      throw new InvalidArgumentException("element",
          type + " concerns a " + type.element() + ", not a " + element.kind());
    }
  }

  /** A port event such as {@code PORT_ACTIVE} or {@code PORT_ERR} on port {@code portNum}. */
  public static AsyncEvent ofPort(Device device, AsyncEventType type, int portNum) {
    return new AsyncEvent(device, type, new EventElement.OfPort(portNum));
  }

  /** A device event such as {@code DEVICE_FATAL}. */
  public static AsyncEvent ofDevice(Device device, AsyncEventType type) {
    return new AsyncEvent(device, type, new EventElement.OfDevice());
  }

  /** The port number of a port event; throws for other events. */
  public int portNum() {
    if (element instanceof EventElement.OfPort p) {
      return p.portNum();
    }
    throw new IllegalStateException(type + " is not a port event");
  }

  @Override
  public String toString() {
    return type + " on " + device.name() + (element instanceof EventElement.OfPort p ? " port " + p.portNum()
        : element instanceof EventElement.OfDevice ? "" : " " + element);
  }
}
