package dev.midlayer.monitor;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * One broken rule, as the {@link ContractMonitor} saw it: which check, which rule, what happened, on which
 * object, for which client, on which thread, and where (the stack of the thread when it was seen).
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param check the check that caught it
 * @param rule the rule it broke (for most checks {@code check.rule()}; checks that cover two rules name the one)
 * @param message what happened, in one sentence
 * @param object the object concerned (e.g. "RC QP 12 on lo0", "CQ #3 on lo1"), or "-"
 * @param client the client concerned (e.g. "client #2 'ipoib'"), or "-"
 * @param thread the thread it happened on
 * @param where the stack at that moment (a {@code Throwable} that was never thrown)
 */
public record Violation(Check check, Rule rule, String message, String object, String client, String thread,
    Throwable where) {

  /** A violation of {@code check}'s own rule, seen now on the calling thread. Never blocks; any thread. */
  static Violation now(Check check, Rule rule, String message, Object object, Object client) {
    return new Violation(check, rule, message, object == null ? "-" : String.valueOf(object),
        client == null ? "-" : String.valueOf(client), Thread.currentThread().getName(),
        new Throwable("seen here"));
  }

  /** One line: {@code [C9 #2 CONCURRENT_CQ_HANDLERS] message (object, client, thread)}. */
  public String headline() {
    return "[" + rule + " check " + check.number() + " " + check + "] " + message + " (object: " + object
        + "; client: " + client + "; thread: " + thread + ")";
  }

  /** The headline, the rule's text and the stack. */
  public String describe() {
    StringWriter s = new StringWriter();
    where.printStackTrace(new PrintWriter(s));
    return headline() + "\n  rule " + rule + ": " + rule.text() + "\n  " + s.toString().replace("\n", "\n  ").trim();
  }

  @Override
  public String toString() {
    return headline();
  }
}
