package dev.midlayer.testsupport;

import dev.midlayer.client.ClientId;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;

/**
 * A shared, totally ordered log of client callbacks and test marks for the registry tests. Every record
 * gets the next sequence number under one lock, so the list order is the order in which the records
 * were made (happens-before from the registry's messaging makes callback records of one registry
 * operation appear in the order the callbacks ran).
 */
public final class RegistryEventLog {

  /** What a record is. */
  public enum Kind {
    /** A client's add started. */
    ADD,
    /** A client's add returned ({@link Event#result()} is what it returned). */
    ADD_END,
    /** A client's remove started. */
    REMOVE,
    /** A client's remove returned. */
    REMOVE_END,
    /** A mark made by the test (e.g. "a stage completed"). */
    MARK
  }

  /**
   * One record.
   *
   * @param seq position in the log, from 0
   * @param kind what happened
   * @param client client name (null for a mark)
   * @param clientId the client's registration id (-1 for a mark)
   * @param device device name (null for a mark)
   * @param deviceIndex the device's registration index (-1 for a mark)
   * @param deviceState the device's state when the record was made (null for a mark)
   * @param data the client data passed to remove, or the label of a mark
   * @param result for ADD_END: what add returned
   * @param thread the thread the record was made on
   */
  public record Event(long seq, Kind kind, String client, int clientId, String device, int deviceIndex,
      DeviceState deviceState, Object data, boolean result, String thread) {

    /** "add client device" / "remove client device", or the mark's label. */
    public String brief() {
      return switch (kind) {
        case ADD -> "add " + client + " " + device;
        case ADD_END -> "add-end " + client + " " + device;
        case REMOVE -> "remove " + client + " " + device;
        case REMOVE_END -> "remove-end " + client + " " + device;
        case MARK -> String.valueOf(data);
      };
    }

    public boolean isCallback() {
      return kind != Kind.MARK;
    }
  }

  private final List<Event> events = new ArrayList<>();

  /** Records a callback event. Any thread. */
  public synchronized Event record(Kind kind, ClientId self, Device device, Object data, boolean result) {
    Event e = new Event(events.size(), kind, self.name(), self.id(), device.name(), device.index(),
        device.state(), data, result, Thread.currentThread().getName());
    events.add(e);
    return e;
  }

  /** Records a mark and returns its sequence number. Any thread. */
  public synchronized long mark(String label) {
    Event e = new Event(events.size(), Kind.MARK, null, -1, null, -1, null, label, false,
        Thread.currentThread().getName());
    events.add(e);
    return e.seq();
  }

  /**
   * A future that completes (with the stage's outcome) only after a mark {@code label} was recorded
   * for the stage's completion. Waiting on it guarantees the mark is in the log.
   */
  public <T> CompletableFuture<T> markOnCompletion(CompletionStage<T> stage, String label) {
    return stage.toCompletableFuture().whenComplete((v, e) -> mark(label));
  }

  /** Number of records so far. */
  public synchronized int size() {
    return events.size();
  }

  /** A copy of every record. */
  public synchronized List<Event> events() {
    return List.copyOf(events);
  }

  /** Records from position {@code from} on. */
  public synchronized List<Event> since(int from) {
    return List.copyOf(events.subList(from, events.size()));
  }

  /** The brief form of the ADD and REMOVE records from position {@code from} on. */
  public List<String> callbacksSince(int from) {
    List<String> out = new ArrayList<>();
    for (Event e : since(from)) {
      if (e.kind() == Kind.ADD || e.kind() == Kind.REMOVE) {
        out.add(e.brief());
      }
    }
    return out;
  }

  /** The brief form of every ADD and REMOVE record. */
  public List<String> callbacks() {
    return callbacksSince(0);
  }

  /** Records matching {@code filter}. */
  public List<Event> filter(Predicate<Event> filter) {
    List<Event> out = new ArrayList<>();
    for (Event e : events()) {
      if (filter.test(e)) {
        out.add(e);
      }
    }
    return out;
  }

  /** The sequence number of the first mark with this label, or -1. */
  public long markSeq(String label) {
    for (Event e : events()) {
      if (e.kind() == Kind.MARK && label.equals(e.data())) {
        return e.seq();
      }
    }
    return -1;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Event e : events()) {
      sb.append(e.seq()).append(' ').append(e.brief()).append('\n');
    }
    return sb.toString();
  }
}
