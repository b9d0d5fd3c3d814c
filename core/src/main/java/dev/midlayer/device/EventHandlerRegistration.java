package dev.midlayer.device;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * The token for an event handler registered on a device; pass it to
 * {@link Device#unregisterEventHandler} (or call {@link #unregister()}). Identity-based; any thread. The
 * accessors never block.
 */
public interface EventHandlerRegistration {
  /** The device the handler is registered on. */
  Device device();

  /** The name given at registration, used in logs. */
  String name();

  /** Same as {@code device().unregisterEventHandler(this)}: may sleep; not from atomic context. */
  default CompletionStage<Done> unregister() {
    return device().unregisterEventHandler(this);
  }
}
