package dev.midlayer.monitor;

/**
 * The checks the {@link ContractMonitor} makes, each with the rule it enforces. Numbered as in the testkit's
 * documentation ({@code testkit/README.md}, "Reading a monitor report").
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum Check {
  /** 1. A completion was produced, or a callback ran, inside a verb's call chain on the same thread. */
  NOT_DEFERRED(1, Rule.C8, "C8"),
  /** 2. Two handlers of the same CQ ran at once. */
  CONCURRENT_CQ_HANDLERS(2, Rule.C9, "C9"),
  /** 3. A may-sleep verb was called in atomic context (the midlayer refused it or warned). */
  MAY_SLEEP_IN_ATOMIC(3, Rule.C4, "C4"),
  /** 4. A blocking call (sleep, park, wait, join, I/O, thread start) in atomic context or in a non-sleeping verb. */
  BLOCKING(4, Rule.C1, "C1/C10"),
  /** 5. Verbs on different objects never overlapped (the concurrency witness; checked on request). */
  SERIALISED(5, Rule.C6, "C6"),
  /** 6. A callback ran for a client after its remove returned, or for a device after its unregistration. */
  CALLBACK_AFTER_REMOVE(6, Rule.C15, "C15/C12"),
  /** 7. A client left resources or handlers on a device after its remove returned. */
  LEFTOVER(7, Rule.C15, "C15"),
  /** 8. A work request completed twice, or never (the ledger). */
  NOT_EXACTLY_ONCE(8, Rule.EXACTLY_ONCE, "EXACTLY_ONCE"),
  /** 9. A client used a device before its add or after its remove. */
  OUTSIDE_ADD_REMOVE(9, Rule.C14, "C14/C15");

  private final int number;
  private final Rule rule;
  private final String rules;

  Check(int number, Rule rule, String rules) {
    this.number = number;
    this.rule = rule;
    this.rules = rules;
  }

  /** Every rule it can report, e.g. {@code "C1/C10"} (C1 inside a verb, C10 in a callback). */
  public String rules() {
    return rules;
  }

  /** The check's number (1 to 9). */
  public int number() {
    return number;
  }

  /** The rule it enforces. */
  public Rule rule() {
    return rule;
  }
}
