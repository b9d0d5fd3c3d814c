package dev.midlayer.monitor;

/**
 * The rules of Linux's {@code Documentation/infiniband/core_locking.txt}, numbered as the project numbers them
 * (C1 to C16), plus the "nothing lost" rule every IB transport keeps (IBA 10.8: every work request that is
 * posted ends in exactly one completion, flush included). A {@link Violation} names the rule it broke.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum Rule {
  C1("the nine driver methods (create/modify/query/destroy_ah, post_send, post_recv, poll_cq, req_notify_cq, "
      + "map_phys_fmr) never sleep and are callable from any context"),
  C2("their ib_* counterparts never sleep and are callable from any context"),
  C3("dispatch_event may be called from any context"),
  C4("every other method may sleep, and is refused in atomic context"),
  C5("driver methods are fully reentrant"),
  C6("the midlayer adds no serialisation on the data path"),
  C7("poll_cq may be called from many threads at once; the order between pollers is undefined"),
  C8("no completion or event callback runs in the call chain of a verb (it is deferred)"),
  C9("at most one completion handler of a CQ runs at a time"),
  C10("callback context is undefined: consumers never sleep in callbacks"),
  C11("a device is announced only when it is fully initialised"),
  C12("a device is usable until its unregistration returns, and calls nobody back afterwards"),
  C13("register/unregister run from process context without deadlock across client callbacks"),
  C14("a consumer may use a device from its add on (and not before)"),
  C15("a client's cleanup is finished when its remove returns"),
  C16("consumers may sleep in add and remove"),
  EXACTLY_ONCE("every posted work request ends in exactly one completion (success, error or flush)");

  private final String text;

  Rule(String text) {
    this.text = text;
  }

  /** The rule in one sentence. */
  public String text() {
    return text;
  }
}
