package dev.midlayer.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * Internal API. The midlayer's Java Flight Recorder events, so that a recording ({@code -XX:StartFlightRecording}
 * or {@code jcmd <pid> JFR.start}) shows what happened to QPs, CQs, callbacks and registrations next to the
 * JVM's own events. They are enabled by default in JFR's default and profile settings; with no recording running
 * each emit costs one check of a static flag.
 *
 * <p>Threading: every method is safe from any thread and never blocks (JFR writes to a thread-local buffer).
 */
public final class MidlayerEvents {
  private MidlayerEvents() {}

  /** A QP's state moved. */
  @Name("dev.midlayer.QpStateChange")
  @Label("QP State Change")
  @Category({"midlayer", "Verbs"})
  @Description("A queue pair moved from one state to another: a modify, or the transport moving it to SQE or ERR.")
  @StackTrace(false)
  static final class QpStateChange extends Event {
    @Label("Device")
    String device;
    @Label("QP Number")
    int qpNum;
    @Label("From")
    String from;
    @Label("To")
    String to;
  }

  /** A CQ overflowed. */
  @Name("dev.midlayer.CqOverflow")
  @Label("CQ Overflow")
  @Category({"midlayer", "Verbs"})
  @Description("A completion did not fit into a completion queue: the CQ is in error (CQ_ERR) and its QPs go to ERR.")
  @StackTrace(false)
  static final class CqOverflow extends Event {
    @Label("Device")
    String device;
    @Label("CQ Number")
    int cqNum;
    @Label("Capacity")
    int capacity;
  }

  /** A callback ran longer than the watchdog allows. */
  @Name("dev.midlayer.SlowCallback")
  @Label("Slow Callback")
  @Category({"midlayer", "Callbacks"})
  @Description("A consumer callback (completion, event handler) has been running longer than the watchdog's "
      + "threshold: callbacks run in atomic context and must not block.")
  @StackTrace(false)
  static final class SlowCallback extends Event {
    @Label("Callback")
    String callback;
    @Label("Running For")
    @Timespan(Timespan.NANOSECONDS)
    long runningNanos;
  }

  /** One step of the registry: an operation, or a client's add or remove of a device. */
  @Name("dev.midlayer.Registration")
  @Label("Registration Step")
  @Category({"midlayer", "Registry"})
  @Description("The registry ran an operation (registerDevice, unregisterDevice, registerClient, "
      + "unregisterClient) or a client's add or remove of a device, which took Took.")
  @StackTrace(false)
  static final class Registration extends Event {
    @Label("Step")
    String step;
    @Label("Device")
    String device;
    @Label("Client")
    String client;
    @Label("Outcome")
    String outcome;
    @Label("Took")
    @Timespan(Timespan.NANOSECONDS)
    long tookNanos;
  }

  /** A QP of {@code device} moved {@code from} → {@code to}. */
  public static void qpStateChange(String device, int qpNum, Object from, Object to) {
    QpStateChange e = new QpStateChange();
    if (e.shouldCommit()) {
      e.device = device;
      e.qpNum = qpNum;
      e.from = String.valueOf(from);
      e.to = String.valueOf(to);
      e.commit();
    }
  }

  /** CQ {@code cqNum} of {@code device} overflowed. */
  public static void cqOverflow(String device, int cqNum, int capacity) {
    CqOverflow e = new CqOverflow();
    if (e.shouldCommit()) {
      e.device = device;
      e.cqNum = cqNum;
      e.capacity = capacity;
      e.commit();
    }
  }

  /** {@code callback} has been running for {@code nanos}. */
  public static void slowCallback(String callback, long nanos) {
    SlowCallback e = new SlowCallback();
    if (e.shouldCommit()) {
      e.callback = callback;
      e.runningNanos = nanos;
      e.commit();
    }
  }

  /**
   * A registry step that began at {@code startNanos} ({@link System#nanoTime}) ended now; {@code device} or
   * {@code client} may be null.
   */
  public static void registration(String step, String device, String client, String outcome, long startNanos) {
    Registration e = new Registration();
    if (e.shouldCommit()) {
      e.step = step;
      e.device = device;
      e.client = client;
      e.outcome = outcome;
      e.tookNanos = System.nanoTime() - startNanos;
      e.commit();
    }
  }
}
