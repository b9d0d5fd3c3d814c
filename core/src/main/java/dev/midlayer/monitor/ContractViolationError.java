package dev.midlayer.monitor;

import java.util.List;

/**
 * Thrown by {@link ContractMonitor#assertNone()}: the monitor saw violations; the message is its report.
 *
 * <p>Threading: its methods never block and may be called from any thread.
 */
public final class ContractViolationError extends AssertionError {
  private static final long serialVersionUID = 1L;
  private final transient List<Violation> violations;

  /** With the monitor's {@code report} as message and a copy of {@code violations}. */
  public ContractViolationError(String report, List<Violation> violations) {
    super(report);
    this.violations = List.copyOf(violations);
  }

  /** What the monitor saw. */
  public List<Violation> violations() {
    return violations;
  }
}
