package dev.midlayer.device;

/**
 * A consumer's handler for unaffiliated asynchronous events of one device ({@code struct ib_event_handler}).
 *
 * <p>Called by the device's actor, one event at a time, in the order events were dispatched, and in
 * registration order across the device's handlers. It runs in <b>atomic context</b>: it must not sleep
 * (no blocking I/O, locks that park, {@code join}); may-sleep verbs called from it fail with
 * {@link dev.midlayer.context.IllegalContextException}. To do slow work, send a message to an actor.
 * An exception thrown by the handler is logged; the other handlers still get the event.
 */
@FunctionalInterface
public interface EventHandler {
  /**
   * Handles {@code event}. Called from the dispatching midlayer actor's turn, in atomic context: it
   * must not sleep.
   */
  void onEvent(AsyncEvent event);
}
