package dev.midlayer.testkit;

import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.EventHandler;
import dev.midlayer.ib.AsyncEventType;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * An event handler that records, in order, every event it is given: register it with
 * {@code device.registerEventHandler(name, probe)}, or pass it where a QP, SRQ or CQ takes an event handler.
 * {@link #onEvent} runs in the midlayer's callback (atomic context, never blocks); the rest is for the test.
 */
public final class EventProbe implements EventHandler {
  private final List<AsyncEvent> events = new CopyOnWriteArrayList<>();

  /** Records the event. Called by the midlayer; never blocks. */
  @Override
  public void onEvent(AsyncEvent event) {
    events.add(event);
  }

  /** The events so far, in the order the handler got them. Any thread. */
  public List<AsyncEvent> events() {
    return List.copyOf(events);
  }

  /** Their types, in order. Any thread. */
  public List<AsyncEventType> types() {
    return events.stream().map(AsyncEvent::type).toList();
  }

  /** Waits for the first event (so far or to come) of {@code type} and returns it. Blocks the test thread. */
  public AsyncEvent await(AsyncEventType type) {
    return await(e -> e.type() == type, type.toString());
  }

  /** Waits for the first event matching {@code which} ({@code what} names it in a failure). Blocks the test thread. */
  public AsyncEvent await(Predicate<AsyncEvent> which, String what) {
    AsyncEvent[] found = new AsyncEvent[1];
    Await.eventually(() -> {
      found[0] = events.stream().filter(which).findFirst()
          .orElseThrow(() -> new AssertionError("no " + what + " event; got " + types()));
    });
    return found[0];
  }
}
