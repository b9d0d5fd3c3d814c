package dev.midlayer.testkit;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A shared, ordered record of client callbacks ({@code add} and {@code remove}) with a checker for the
 * lifecycle contract: per (client, device) the callbacks alternate starting with an accepted
 * {@code add}; {@code remove} never follows a declined or failed {@code add}; a client never runs two
 * callbacks at once. Fed by {@link RecordingClient}s. Thread-safe: record from any thread.
 *
 * <p>Threading: every method never blocks (lock-free queues) and may be called from any thread, a midlayer
 * callback included.
 */
public final class CallbackLog {

  /** What a callback was. */
  public enum Kind { ADD, REMOVE }

  /**
   * One finished callback.
   *
   * @param seq global order in which callbacks finished
   * @param client client name
   * @param device device name
   * @param deviceIndex device index (distinguishes two registrations of one name)
   * @param kind add or remove
   * @param accepted for an add: whether the client took the device; true for a remove
   */
  public record Entry(long seq, String client, String device, int deviceIndex, Kind kind, boolean accepted) {
    /** {@code "client+device"} for an accepted add, {@code "client~device"} for a declined one, {@code "client-device"} for a remove. */
    public String shortForm() {
      return client + (kind == Kind.REMOVE ? "-" : accepted ? "+" : "~") + device;
    }
  }

  private final AtomicLong seq = new AtomicLong();
  private final ConcurrentLinkedQueue<Entry> entries = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();

  /** Records a finished callback and returns its entry. */
  public Entry record(String client, String device, int deviceIndex, Kind kind, boolean accepted) {
    Entry e = new Entry(seq.incrementAndGet(), client, device, deviceIndex, kind, accepted);
    entries.add(e);
    return e;
  }

  /** Records a contract violation seen while it happened (e.g. two callbacks of one client at once). */
  public void violation(String description) {
    violations.add(description);
  }

  /** Every recorded callback, in the order they finished. */
  public List<Entry> entries() {
    return List.copyOf(entries);
  }

  /** The callbacks in {@link Entry#shortForm()}, in order: handy for asserting a sequence. */
  public List<String> sequence() {
    return entries.stream().map(Entry::shortForm).collect(Collectors.toList());
  }

  /** Forgets everything recorded so far. */
  public void clear() {
    entries.clear();
    violations.clear();
  }

  /**
   * Checks the lifecycle contract over everything recorded.
   *
   * @throws AssertionError listing every violation
   */
  public void assertLifecycleContract() {
    List<String> problems = new ArrayList<>(violations);
    Map<String, Boolean> addedNow = new HashMap<>();
    for (Entry e : entries) {
      String pair = e.client() + " on " + e.device() + "#" + e.deviceIndex();
      boolean added = addedNow.getOrDefault(pair, false);
      if (e.kind() == Kind.ADD) {
        if (added) {
          problems.add("#" + e.seq() + ": second add for " + pair + " without a remove in between");
        }
        addedNow.put(pair, e.accepted());
      } else {
        if (!added) {
          problems.add("#" + e.seq() + ": remove for " + pair + " that was not added");
        }
        addedNow.put(pair, false);
      }
    }
    if (!problems.isEmpty()) {
      throw new AssertionError("lifecycle contract broken:\n  " + String.join("\n  ", problems));
    }
  }
}
