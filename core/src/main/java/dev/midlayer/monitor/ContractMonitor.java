package dev.midlayer.monitor;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientContext;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.AtomicContext;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contract monitor: watches a running midlayer for broken rules of the seed (Linux's
 * {@code Documentation/infiniband/core_locking.txt}, numbered C1 to C16 in {@link Rule}) and of "nothing lost",
 * and records each as a {@link Violation} naming the rule, the object, the client and the stack. Its nine
 * {@link Check}s:
 * <ol>
 *   <li>a completion produced, or a callback run, inside a verb's call chain (C8);
 *   <li>two handlers of one CQ at once (C9);
 *   <li>a may-sleep verb in atomic context (C4; the midlayer refuses it, the monitor records it);
 *   <li>a blocking call in atomic context or in a non-sleeping verb (C1/C10; reported by BlockHound when it is
 *       installed, see {@link MidlayerBlockHoundIntegration});
 *   <li>serialisation on the data path: the {@link #witness()} counts overlapping posts and polls (C6);
 *   <li>a callback to a client after its remove returned, or for a device after its unregistration (C15/C12);
 *   <li>resources or handlers left by a client after its remove (C15);
 *   <li>a work request completed twice, or never (the {@link #ledger()});
 *   <li>verbs used by a client on a device before its add or after its remove (C14/C15).
 * </ol>
 *
 * <p>Attach one with {@link #attach(Midlayer)} (the testkit does it for every test, and fails the test on any
 * violation), or with {@code midlayer.monitor.attach = on}. Without a monitor the midlayer's hooks cost one
 * volatile read each. With one, every non-sleeping verb also marks its thread (a thread-local write on entry
 * and exit) and the ledger records every work request: meant for tests and demos, not for production runs.
 *
 * <p>The methods under "called by the midlayer" are the hooks its implementation calls; consumers never call
 * them. Thread safety: every method is lock-free, never blocks and may be called from any thread.
 */
public final class ContractMonitor {
  private static final Logger log = LoggerFactory.getLogger(ContractMonitor.class);
  /** Every attached monitor of this JVM: BlockHound's callback reports to them. */
  private static final Set<ContractMonitor> ATTACHED = ConcurrentHashMap.newKeySet();
  private static final ThreadLocal<Frame> FRAME = ThreadLocal.withInitial(Frame::new);
  /** The monitors attached in this JVM, oldest first, at most {@link #HISTORY_SIZE}: for test harnesses. */
  private static final java.util.concurrent.ConcurrentLinkedDeque<ContractMonitor> HISTORY =
      new java.util.concurrent.ConcurrentLinkedDeque<>();
  private static final java.util.concurrent.atomic.AtomicLong ATTACHES = new java.util.concurrent.atomic.AtomicLong();
  private static final int HISTORY_SIZE = 256;
  private volatile long attachNumber;

  /** Which non-sleeping verbs the thread is inside, innermost last. */
  private static final class Frame {
    final NonSleepingVerb[] verbs = new NonSleepingVerb[8];
    final Object[] subjects = new Object[8];
    int depth;
  }

  /** Where a (client, device) pair is in its life. */
  private enum Phase { ADDING, GONE }

  private record Pair(ClientId client, Object device) {}

  private final String name;
  private final ConcurrentLinkedQueue<Violation> violations = new ConcurrentLinkedQueue<>();
  private final Map<Check, LongAdder> counts = new EnumMap<>(Check.class);
  private final ConcurrentHashMap<Object, Thread> runningCqHandlers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Pair, Phase> pairs = new ConcurrentHashMap<>();
  private final Set<Object> unregisteredDevices = ConcurrentHashMap.newKeySet();
  private final WrLedger ledger = new WrLedger(this);
  private final ConcurrencyWitness witness = new ConcurrencyWitness();

  /** A monitor named {@code name} (e.g. the actor system's name); not attached to anything yet. */
  public ContractMonitor(String name) {
    this.name = Objects.requireNonNull(name, "name");
    for (Check c : Check.values()) {
      counts.put(c, new LongAdder());
    }
  }

  /**
   * The monitor of {@code midlayer}, attached now if it had none. From then on every hook reports to it. Never
   * blocks; any thread (attach before the traffic you want watched).
   */
  public static ContractMonitor attach(Midlayer midlayer) {
    return midlayer.attachMonitor();
  }

  /** Called by the midlayer when it attaches this monitor. */
  public void attached() {
    ATTACHED.add(this);
    attachNumber = ATTACHES.incrementAndGet();
    HISTORY.addLast(this);
    while (HISTORY.size() > HISTORY_SIZE) {
      HISTORY.pollFirst();
    }
  }

  /** How many monitors were attached in this JVM so far: a mark for {@link #attachedAfter}. */
  public static long attachCount() {
    return ATTACHES.get();
  }

  /**
   * The monitors attached after {@code mark} (a value of {@link #attachCount()}), oldest first, whether their
   * actor systems still run or not: for a test harness that judges every midlayer a test started.
   */
  public static List<ContractMonitor> attachedAfter(long mark) {
    List<ContractMonitor> out = new ArrayList<>();
    for (ContractMonitor m : HISTORY) {
      if (m.attachNumber > mark) {
        out.add(m);
      }
    }
    return out;
  }

  /** Stops BlockHound's reports reaching this monitor (the midlayer calls it when its actor system ends). */
  public void detached() {
    ATTACHED.remove(this);
  }

  // ---- what it saw ----

  /** The violations seen so far, in the order they were seen (at most {@value #KEPT_PER_CHECK} per check). */
  public List<Violation> violations() {
    return List.copyOf(violations);
  }

  /** How many violations {@code check} caught. */
  public long count(Check check) {
    return counts.get(check).sum();
  }

  /** How many violations in all. */
  public long total() {
    long n = 0;
    for (LongAdder a : counts.values()) {
      n += a.sum();
    }
    return n;
  }

  /** The exactly-once ledger. */
  public WrLedger ledger() {
    return ledger;
  }

  /** The concurrency witness (check 5). */
  public ConcurrencyWitness witness() {
    return witness;
  }

  /** Forgets the violations seen so far (a test that provoked some on purpose and asserted them). */
  public void clear() {
    violations.clear();
    counts.values().forEach(LongAdder::reset);
  }

  /**
   * Runs the checks that need the drivers to have stopped (the ledger's "never completed"), records what they
   * find, and returns every violation. Call it after the midlayer's devices are gone (the testkit calls it at
   * the end of each test).
   */
  public List<Violation> verify() {
    for (Violation v : ledger.neverCompleted()) {
      record(v);
    }
    return violations();
  }

  /**
   * The report: one line per check with its count, then each violation's headline, and the last line
   * {@code contract violations: N}.
   */
  public String report() {
    StringBuilder b = new StringBuilder("contract monitor of ").append(name).append('\n');
    for (Check c : Check.values()) {
      b.append(String.format("  %d %-22s %-12s %d%n", c.number(), c, c.rules(), count(c)));
    }
    b.append("  ").append(ledger).append('\n');
    b.append("  ").append(witness).append('\n');
    for (Violation v : violations) {
      b.append("  ").append(v.headline()).append('\n');
    }
    return b.append("contract violations: ").append(total()).toString();
  }

  /**
   * Fails with a {@link ContractViolationError} (the report, then the first violations with their stacks) if
   * any violation was seen. Runs {@link #verify()} first.
   */
  public void assertNone() {
    assertNone(toString(), java.util.Set.of(), false);
  }

  /**
   * As {@link #assertNone()}, but violations of the {@code allowed} checks (a test that breaks those rules on
   * purpose) and, if {@code ownerlessLeftovers}, the leftovers of objects no client made (a test that makes objects
   * directly and leaves them to the unregistration) do not fail. {@code where} heads the message (e.g. the test).
   */
  public void assertNone(String where, java.util.Set<Check> allowed, boolean ownerlessLeftovers) {
    List<Violation> bad = new ArrayList<>();
    for (Violation v : verify()) {
      boolean ownerless = v.check() == Check.LEFTOVER && v.client().equals("-");
      if (!allowed.contains(v.check()) && !(ownerlessLeftovers && ownerless)) {
        bad.add(v);
      }
    }
    if (!bad.isEmpty()) {
      StringBuilder b = new StringBuilder(where).append(": ").append(bad.size()).append(" contract violation(s)\n")
          .append(report());
      for (int i = 0; i < Math.min(3, bad.size()); i++) {
        b.append("\n\n").append(bad.get(i).describe());
      }
      throw new ContractViolationError(b.toString(), bad);
    }
  }

  @Override
  public String toString() {
    return "contract monitor of " + name + " (" + total() + " violations)";
  }

  // ---- the thread's state (also read by BlockHound's predicate) ----

  /** True if the calling thread is inside a non-sleeping verb of a monitored midlayer. */
  public static boolean inNonSleepingVerb() {
    return FRAME.get().depth > 0;
  }

  /** True if the calling thread must not block now: in atomic context, or inside a non-sleeping verb. */
  public static boolean mustNotBlock() {
    return AtomicContext.isAtomic() || inNonSleepingVerb();
  }

  /**
   * Called by BlockHound's callback: the calling thread made the blocking call {@code call} while it must not
   * block. Recorded in every attached monitor.
   */
  public static void blockingCall(String call) {
    Frame f = FRAME.get();
    String where = f.depth > 0 ? "inside " + f.verbs[f.depth - 1].kernelName() + " on " + f.subjects[f.depth - 1]
        : "inside " + AtomicContext.currentCallback() + " (atomic context)";
    Rule rule = f.depth > 0 ? Rule.C1 : Rule.C10;
    Violation v = Violation.now(Check.BLOCKING, rule, "blocking call " + call + " " + where,
        f.depth > 0 ? f.subjects[f.depth - 1] : AtomicContext.currentCallback(), ClientContext.current());
    for (ContractMonitor m : ATTACHED) {
      m.record(v);
    }
  }

  // ---- called by the midlayer ----

  /** How many violations are kept (and logged) per check; the rest are counted only, so a loop cannot flood. */
  static final int KEPT_PER_CHECK = 100;

  /** Records {@code v}, logs it at WARN and counts it; past {@link #KEPT_PER_CHECK} of a check, counts it only. */
  void record(Violation v) {
    LongAdder count = counts.get(v.check());
    count.increment();
    long n = count.sum();
    if (n <= KEPT_PER_CHECK) {
      violations.add(v);
      if (v.check() == Check.LEFTOVER) {
        log.debug("contract violation: {}", v.headline()); // the midlayer warns about each leftover already
      } else {
        log.warn("contract violation: {}", v.headline());
      }
    } else if (n == KEPT_PER_CHECK + 1) {
      log.warn("contract violation: more than {} of check {} {}: the rest are counted, not kept", KEPT_PER_CHECK,
          v.check().number(), v.check());
    }
  }

  /**
   * The calling thread enters {@code verb} on {@code subject} (of {@code device}, owned by {@code owner}, may
   * be null). Must be paired with {@link #verbExited} in a finally block.
   */
  public void verbEntered(NonSleepingVerb verb, Object subject, Object device, ClientId owner) {
    Frame f = FRAME.get();
    if (f.depth < f.verbs.length) {
      f.verbs[f.depth] = verb;
      f.subjects[f.depth] = subject;
    }
    f.depth++;
    witness.enter(verb);
    if (owner != null && pairs.get(new Pair(owner, device)) == Phase.GONE) {
      record(Violation.now(Check.OUTSIDE_ADD_REMOVE, Rule.C15, verb.kernelName() + " on " + subject
          + " after its client's remove of the device returned", subject, owner));
    }
  }

  /** The calling thread leaves the verb it entered last. */
  public void verbExited(NonSleepingVerb verb) {
    Frame f = FRAME.get();
    f.depth--;
    if (f.depth < f.verbs.length) {
      f.subjects[f.depth] = null;
    }
    witness.exit(verb);
  }

  /** A driver produced a completion ({@code what}) for {@code queue}: it must not be inside a verb's call chain. */
  public void completionProduced(Object queue, String what) {
    Frame f = FRAME.get();
    if (f.depth > 0) {
      record(Violation.now(Check.NOT_DEFERRED, Rule.C8, "the driver produced " + what + " for " + queue
          + " inside " + f.verbs[f.depth - 1].kernelName() + " on " + f.subjects[f.depth - 1]
          + " instead of deferring it to its own context", queue, ClientContext.current()));
    }
  }

  /**
   * A consumer callback named {@code callback} begins on the calling thread; {@code cq} is its CQ if it is a
   * CQ's completion handler or done callbacks (else null). Must be paired with {@link #callbackEnded}.
   */
  public void callbackBegins(String callback, Object cq, Object device, ClientId owner) {
    Frame f = FRAME.get();
    if (f.depth > 0) {
      record(Violation.now(Check.NOT_DEFERRED, Rule.C8, callback + " ran inside "
          + f.verbs[f.depth - 1].kernelName() + " on " + f.subjects[f.depth - 1], f.subjects[f.depth - 1], owner));
    }
    if (cq != null) {
      Thread me = Thread.currentThread();
      Thread other = runningCqHandlers.putIfAbsent(cq, me);
      if (other != null && other != me) {
        record(Violation.now(Check.CONCURRENT_CQ_HANDLERS, Rule.C9, callback + " began while another handler of "
            + cq + " was running on thread " + other.getName(), cq, owner));
      }
    }
    if (owner != null && pairs.get(new Pair(owner, device)) == Phase.GONE) {
      record(Violation.now(Check.CALLBACK_AFTER_REMOVE, Rule.C15, callback + " called back " + owner
          + " after its remove of the device returned", device, owner));
    } else if (device != null && unregisteredDevices.contains(device)) {
      record(Violation.now(Check.CALLBACK_AFTER_REMOVE, Rule.C12, callback + " ran after the device's "
          + "unregistration completed", device, owner));
    }
  }

  /** The callback begun last by this thread for {@code cq} (or null) ended. */
  public void callbackEnded(Object cq) {
    if (cq != null) {
      runningCqHandlers.remove(cq, Thread.currentThread());
    }
  }

  /**
   * Check 5's verdict, given by whoever drove the witness (the testkit's {@code DataPathOverlap}): verbs on
   * different objects from different threads never overlapped in {@code what}.
   */
  public void serialised(String what) {
    record(Violation.now(Check.SERIALISED, Rule.C6, what, "the data path", null));
  }

  /** A may-sleep verb was called in atomic context, inside {@code callback}; the midlayer refuses or warns. */
  public void maySleepInAtomic(String verb, String callback, Object device) {
    record(Violation.now(Check.MAY_SLEEP_IN_ATOMIC, Rule.C4, verb + " may sleep but was called inside "
        + callback, device, ClientContext.current()));
  }

  /**
   * A may-sleep verb {@code verb} of {@code device}: if the calling thread acts for a client that is not
   * between its add and its remove of that device, the client used it outside its add/remove.
   */
  public void maySleepVerb(String verb, Object device) {
    ClientId client = ClientContext.current();
    if (client == null || device == null) {
      return;
    }
    Phase p = pairs.get(new Pair(client, device));
    if (p == null) {
      record(Violation.now(Check.OUTSIDE_ADD_REMOVE, Rule.C14, client + " called " + verb + " on " + device
          + " before its add of that device", device, client));
    } else if (p == Phase.GONE) {
      record(Violation.now(Check.OUTSIDE_ADD_REMOVE, Rule.C15, client + " called " + verb + " on " + device
          + " after its remove of that device returned", device, client));
    }
  }

  /** The registry is about to call {@code client}'s add for {@code device}. */
  public void clientAdding(ClientId client, Object device) {
    pairs.put(new Pair(client, device), Phase.ADDING);
  }

  /** {@code client}'s remove of {@code device} returned (or its add declined or failed). */
  public void clientGone(ClientId client, Object device) {
    pairs.put(new Pair(client, device), Phase.GONE);
  }

  /** {@code device}'s unregistration completed. */
  public void deviceUnregistered(Object device) {
    unregisteredDevices.add(device);
  }

  /** The midlayer reclaimed {@code object} that {@code client} left on {@code device} after its remove. */
  public void leftover(ClientId client, String device, String object) {
    record(Violation.now(Check.LEFTOVER, Rule.C15, (client == null
        ? object + " of no client was still on " + device + " when it was unregistered (reclaimed)"
        : client + " left " + object + " on " + device + " when its remove returned (reclaimed)"), object, client));
  }

  /** For tests of the monitor: the violations of one check. */
  public List<Violation> violations(Check check) {
    List<Violation> out = new ArrayList<>();
    for (Violation v : violations) {
      if (v.check() == check) {
        out.add(v);
      }
    }
    return out;
  }
}
